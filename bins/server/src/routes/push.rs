//! What WeChat's servers call: `GET` and `POST /wechat/push/{appid}`.

use actix_web::{HttpResponse, web};
use wxlogin_core::PushQuery;

use crate::error::ApiError;
use crate::state::AppState;

/// The query of a WeChat push, read by hand so that a missing parameter is WeChat's problem to
/// be refused for, not a 400 of ours.
fn push_query(query: &std::collections::HashMap<String, String>) -> PushQuery {
    let get = |name: &str| query.get(name).cloned();
    PushQuery {
        signature: get("signature"),
        timestamp: get("timestamp"),
        nonce: get("nonce"),
        echostr: get("echostr"),
        encrypt_type: get("encrypt_type"),
        msg_signature: get("msg_signature"),
    }
}

fn text_plain(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(body)
}

/// The URL check of WeChat's message-push console
///
/// Answers `echostr` (with `X-Content-Type-Options: nosniff`) when `signature` is the sha1 of
/// the sorted push Token, timestamp and nonce, and `timestamp` is within 5 minutes of now.
#[utoipa::path(method(get, head), path = "/wechat/push/{appid}", tag = "wechat",
    params(
        ("appid" = String, Path, description = "The mini program the push settings are of"),
        ("signature" = Option<String>, Query), ("timestamp" = Option<String>, Query),
        ("nonce" = Option<String>, Query), ("echostr" = Option<String>, Query),
    ),
    responses((status = 200, description = "`echostr`", content_type = "text/plain; charset=utf-8", body = String)))]
pub(crate) async fn push_url_check(
    state: web::Data<AppState>,
    appid: web::Path<String>,
    query: web::Query<std::collections::HashMap<String, String>>,
) -> Result<HttpResponse, ApiError> {
    let echostr = state.service.verify_push_url(&appid, &push_query(&query))?;
    // The text is the caller's: never to be read as anything but text.
    let mut answer = text_plain(echostr);
    answer.headers_mut().insert(
        actix_web::http::header::X_CONTENT_TYPE_OPTIONS,
        actix_web::http::header::HeaderValue::from_static("nosniff"),
    );
    Ok(answer)
}

/// A WeChat push (authorization events)
///
/// Plain or safe mode (`encrypt_type=aes`; an app with an EncodingAESKey takes safe mode
/// only), an XML or a JSON body; answered `success` once applied (WeChat waits 5 s, then
/// retries), and again for a copy of a push already applied, which is not applied twice.
#[utoipa::path(post, path = "/wechat/push/{appid}", tag = "wechat",
    params(
        ("appid" = String, Path, description = "The mini program the push is for"),
        ("signature" = Option<String>, Query), ("timestamp" = Option<String>, Query),
        ("nonce" = Option<String>, Query), ("encrypt_type" = Option<String>, Query),
        ("msg_signature" = Option<String>, Query),
    ),
    request_body(description = "WeChat's message, XML or JSON", content(
        (String = "text/xml"), (String = "application/xml"), (String = "application/json"))),
    responses((status = 200, description = "Applied", content_type = "text/plain; charset=utf-8", body = String, example = "success")))]
pub(crate) async fn push(
    state: web::Data<AppState>,
    appid: web::Path<String>,
    query: web::Query<std::collections::HashMap<String, String>>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let effect = state
        .service
        .receive_push(&appid, &push_query(&query), &body)
        .await?;
    log::debug!("WeChat push to {appid}: {effect:?}");
    Ok(text_plain("success".into()))
}
