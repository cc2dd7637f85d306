//! `GET /media/avatars/{name}`: stored avatars, served from the media store. Names are new for
//! every file, so a name's answer never changes: cached for ever, and revalidated by `ETag`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use wxlogin_domain::{MediaError, is_media_name};

use crate::error::{ApiError, ApiErrorKind};
use crate::state::AppState;

/// An avatar
///
/// The file `avatarUrl` names, with `ETag` (`If-None-Match` answers 304) and
/// `Cache-Control: public, max-age=31536000, immutable`.
#[utoipa::path(method(get, head), path = "/media/avatars/{name}", tag = "account",
    params(("name" = String, Path, description = "The file's name, as avatarUrl gives it")),
    responses(
        (status = 200, description = "The image", content_type = "image/jpeg"),
        (status = 304, description = "Not modified: the ETag sent is the file's")))]
pub(crate) async fn avatar(
    state: web::Data<AppState>,
    request: HttpRequest,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = format!("avatars/{}", name.into_inner());
    // Checked here too (the stores check it): a name that is not one never reaches a store.
    if !is_media_name(&name) || name.matches('/').count() != 1 {
        return Err(ApiErrorKind::NotFound.error());
    }
    let etag = format!("\"{}\"", name.trim_start_matches("avatars/"));
    let cache = (header::CACHE_CONTROL, "public, max-age=31536000, immutable");
    let matches = request
        .headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == etag || tag.strip_prefix("W/") == Some(etag.as_str())
        });
    let Some(media) = &state.media else {
        return Err(ApiErrorKind::NotFound.error());
    };
    if matches {
        // The name is the content: a client holding this tag holds this file, whether or not
        // it is still stored.
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .insert_header(cache)
            .finish());
    }
    let file = media.get(&name).await.map_err(|e| match e {
        MediaError::InvalidName => ApiErrorKind::NotFound.error(),
        other => {
            log::warn!(
                "the media store failed to read {name}: {}",
                wxlogin_domain::error_chain(&other)
            );
            ApiErrorKind::Unavailable.error()
        }
    })?;
    let Some(file) = file else {
        return Err(ApiErrorKind::NotFound.error());
    };
    // Only an image type is served from the API's origin, whatever a bucket says an object
    // is (a text/html object written there by other means is not a page of ours).
    let content_type = match file.content_type.as_str() {
        known @ ("image/jpeg" | "image/webp" | "image/png" | "image/gif") => known.to_owned(),
        _ => "application/octet-stream".to_owned(),
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::ETAG, etag))
        .insert_header(cache)
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(file.bytes))
}
