//! `POST /api/me/avatar`: the avatar a person picked with `<button open-type="chooseAvatar">`,
//! uploaded by `wx.uploadFile` as `multipart/form-data` (the file in the part named `file`).

use actix_multipart::Multipart;
use actix_web::{HttpResponse, web};
use futures_util::StreamExt;

use super::UserBody;
use crate::auth::Authenticated;
use crate::error::{ApiError, ApiErrorKind};
use crate::state::AppState;

/// What other parts (wx.uploadFile's `formData`) may hold in all: they are read and dropped.
const OTHER_PARTS_BYTES: usize = 64 * 1024;

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
    mut form: Multipart,
) -> Result<HttpResponse, ApiError> {
    let max_bytes = state.avatar_max_bytes;
    let mut file: Option<Vec<u8>> = None;
    let mut other_bytes = 0usize;
    while let Some(part) = form.next().await {
        let mut part = part.map_err(multipart_error)?;
        let is_file = part.name() == Some("file") && file.is_none();
        let mut bytes = Vec::new();
        while let Some(chunk) = part.next().await {
            let chunk = chunk.map_err(multipart_error)?;
            if is_file {
                // Stops reading at the bound: a larger body is never held.
                if bytes.len() + chunk.len() > max_bytes {
                    return Err(too_large(max_bytes));
                }
                bytes.extend_from_slice(&chunk);
            } else {
                other_bytes += chunk.len();
                if other_bytes > OTHER_PARTS_BYTES {
                    return Err(ApiError::new(
                        ApiErrorKind::PayloadTooLarge,
                        "the parts beside `file` are over 64 KiB",
                    ));
                }
            }
        }
        if is_file {
            file = Some(bytes);
        }
    }
    let file = file.ok_or_else(|| {
        ApiError::invalid_request("the image must come in the multipart part named `file`")
    })?;
    let user = state.service.upload_avatar(&caller, file).await?;
    Ok(HttpResponse::Ok().json(UserBody::from(user)))
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
