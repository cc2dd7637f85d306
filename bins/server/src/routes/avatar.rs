//! `POST /api/me/avatar`: the avatar a person picked with `<button open-type="chooseAvatar">`,
//! uploaded by `wx.uploadFile` as `multipart/form-data` (the file in the part named `file`).

use std::time::Duration;

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use wxlogin_media::sniff;

use super::UserBody;
use crate::auth::Authenticated;
use crate::error::{ApiError, ApiErrorKind};
use crate::state::AppState;

/// What other parts (wx.uploadFile's `formData`) may hold in all: they are read and dropped.
const OTHER_PARTS_BYTES: usize = 64 * 1024;

/// How long an upload waits for a turn to be read before it is told to come back (503).
const ADMISSION_WAIT: Duration = Duration::from_secs(2);

/// How long the whole body may take to arrive: a phone uploads 5 MiB in far less.
const UPLOAD_DEADLINE: Duration = Duration::from_secs(30);

/// The bytes that tell an image's type (`wxlogin_media::sniff` looks at 16 at most).
const SNIFF_BYTES: usize = 16;

/// Upload the caller's avatar
///
/// `multipart/form-data` with the image in the part named `file` (other parts are ignored):
/// JPEG, PNG, WebP or GIF by its content, at most `AVATAR_MAX_BYTES` (5 MiB) and 4096×4096
/// pixels. It is decoded (first frame), scaled to fit `AVATAR_SIZE` (640) pixels square and
/// re-encoded as JPEG, so no metadata (EXIF, GPS) survives; the avatar it replaces is deleted.
/// Anything else is refused and the previous avatar stays.
#[utoipa::path(post, path = "/api/me/avatar", tag = "account",
    request_body(content = AvatarUpload, content_type = "multipart/form-data"),
    responses((status = 200, description = "The account with its new avatarUrl", body = UserBody)))]
pub(crate) async fn upload_avatar(
    state: web::Data<AppState>,
    Authenticated(caller): Authenticated,
    request: HttpRequest,
    form: Multipart,
) -> Result<HttpResponse, ApiError> {
    let max_bytes = state.avatar_max_bytes;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > max_bytes + OTHER_PARTS_BYTES) {
        return Err(too_large(max_bytes));
    }
    // A turn before the body is read, not only before it is decoded: uploads held open (a
    // body sent slowly, or never finished) are at most so many, each at most `max_bytes`.
    let _turn = tokio::time::timeout(ADMISSION_WAIT, state.upload_turns.clone().acquire_owned())
        .await
        .map_err(|_| busy())?
        .map_err(|_| busy())?;
    let file = tokio::time::timeout(
        UPLOAD_DEADLINE,
        read_file(form, max_bytes, declared.unwrap_or(0)),
    )
    .await
    .map_err(|_| {
        ApiError::invalid_request(format!(
            "the upload took over {} s",
            UPLOAD_DEADLINE.as_secs()
        ))
    })??;
    let user = state.service.upload_avatar(&caller, file).await?;
    Ok(HttpResponse::Ok().json(UserBody::from(user)))
}

/// The part `file` of `form`, at most `max_bytes`, refused as soon as its first bytes are not
/// an image's; the other parts read and dropped, 64 KiB of them at most.
async fn read_file(
    mut form: Multipart,
    max_bytes: usize,
    declared: usize,
) -> Result<Vec<u8>, ApiError> {
    let mut file: Option<Vec<u8>> = None;
    let mut other_bytes = 0usize;
    while let Some(part) = form.next().await {
        let mut part = part.map_err(multipart_error)?;
        let is_file = part.name() == Some("file") && file.is_none();
        // Sized once from the declared length: a growing buffer would double past the bound.
        let mut bytes = Vec::with_capacity(if is_file { declared.min(max_bytes) } else { 0 });
        while let Some(chunk) = part.next().await {
            let chunk = chunk.map_err(multipart_error)?;
            if !is_file {
                // Headers of parts count too: a body of many empty parts is refused.
                other_bytes += chunk.len() + 64;
                if other_bytes > OTHER_PARTS_BYTES {
                    return Err(ApiError::new(
                        ApiErrorKind::PayloadTooLarge,
                        "the parts beside `file` are over 64 KiB",
                    ));
                }
                continue;
            }
            // Stops reading at the bound: a larger body is never held.
            if bytes.len() + chunk.len() > max_bytes {
                return Err(too_large(max_bytes));
            }
            let seen = bytes.len();
            bytes.extend_from_slice(&chunk);
            if seen < SNIFF_BYTES && bytes.len() >= SNIFF_BYTES && sniff(&bytes).is_none() {
                return Err(ApiErrorKind::InvalidImage.error());
            }
        }
        if !is_file {
            other_bytes += 64;
            if other_bytes > OTHER_PARTS_BYTES {
                return Err(ApiError::new(
                    ApiErrorKind::PayloadTooLarge,
                    "the parts beside `file` are over 64 KiB",
                ));
            }
        } else {
            file = Some(bytes);
        }
    }
    file.ok_or_else(|| {
        ApiError::invalid_request("the image must come in the multipart part named `file`")
    })
}

fn busy() -> ApiError {
    ApiError::new(
        ApiErrorKind::Unavailable,
        "too many uploads at once; try again",
    )
}

fn too_large(max_bytes: usize) -> ApiError {
    ApiError::new(
        ApiErrorKind::PayloadTooLarge,
        format!("the image is over the limit of {max_bytes} bytes"),
    )
}

fn multipart_error(e: actix_multipart::MultipartError) -> ApiError {
    ApiError::invalid_request(format!(
        "the body is not the multipart/form-data expected: {e}"
    ))
}

/// The multipart form, for the API description.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub(crate) struct AvatarUpload {
    /// The image file (`wx.uploadFile`'s `filePath`, with `name: "file"`).
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}
