//! The routes of the HTTP contract.

use std::time::{Duration, UNIX_EPOCH};

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Deserializer, Serialize};
use wxlogin_core::{ProfileEdit, PushQuery, UserInfoData};
use wxlogin_domain::User;

use wxlogin_domain::error_chain;

use crate::auth::Authenticated;
use crate::client_addr::{client_ip, limit_key};
use crate::error::ApiError;
use crate::state::AppState;

/// Mounts every route, with JSON errors for unknown paths and wrong methods.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/api/login").route(web::post().to(login)))
        .service(
            resource("/api/me")
                .route(web::get().to(me))
                .route(web::head().to(me))
                .route(web::put().to(update_me))
                .route(web::delete().to(delete_me)),
        )
        .service(resource("/api/me/userinfo").route(web::post().to(user_info)))
        .service(resource("/api/me/phone").route(web::post().to(phone)))
        .service(resource("/api/logout").route(web::post().to(logout)))
        .service(
            resource("/healthz")
                .route(web::get().to(healthz))
                .route(web::head().to(healthz)),
        )
        .service(
            resource("/readyz")
                .route(web::get().to(readyz))
                .route(web::head().to(readyz)),
        )
        .service(
            resource("/wechat/push/{appid}")
                .route(web::get().to(push_url_check))
                .route(web::head().to(push_url_check))
                .route(web::post().to(push)),
        );
}

fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method",
    ))
}

/// The answer for paths no route serves.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such route",
    ))
}

/// Reads a request body that must be a JSON object. Read as a value first because serde
/// would also take an array for a struct (`[]`, or `["code"]` for `{"code": ...}`).
fn json_object<T: serde::de::DeserializeOwned>(body: serde_json::Value) -> Result<T, ApiError> {
    if !body.is_object() {
        return Err(ApiError::invalid_request("the body must be a JSON object"));
    }
    serde_json::from_value(body)
        .map_err(|e| ApiError::invalid_request(format!("the body does not fit: {e}")))
}

/// `User` as the contract shows it: no openid, no unionid, RFC 3339 times.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UserBody {
    id: String,
    nick_name: Option<String>,
    avatar_url: Option<String>,
    gender: Option<i32>,
    phone_number: Option<String>,
    apps: Vec<String>,
    created_at: String,
    updated_at: String,
}

fn rfc3339(unix_secs: i64) -> String {
    let time = UNIX_EPOCH + Duration::from_secs(u64::try_from(unix_secs).unwrap_or(0));
    humantime::format_rfc3339_seconds(time).to_string()
}

impl From<User> for UserBody {
    fn from(user: User) -> Self {
        Self {
            id: user.id,
            nick_name: user.nick_name,
            avatar_url: user.avatar_url,
            gender: user.gender,
            phone_number: user.phone_number,
            apps: user.apps,
            created_at: rfc3339(user.created_at),
            updated_at: rfc3339(user.updated_at),
        }
    }
}

#[derive(Deserialize)]
struct LoginRequest {
    code: String,
    /// Which mini program the code is of; else the `Referer`'s, else the only one served.
    #[serde(default)]
    appid: Option<String>,
}

/// The appid in the `Referer` that `wx.request` sets:
/// `https://servicewechat.com/{appid}/{version}/page-frame.html`. A hint, never a proof.
pub fn appid_from_referer(referer: &str) -> Option<&str> {
    let rest = referer.strip_prefix("https://servicewechat.com/")?;
    let (appid, rest) = rest.split_once('/')?;
    (!appid.is_empty() && !rest.is_empty()).then_some(appid)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LoginResponse {
    token: String,
    token_type: &'static str,
    expires_in: i64,
    expires_at: String,
    user_exist: bool,
    user_info: UserBody,
}

async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let body: LoginRequest = json_object(body.into_inner())?;
    if let (Some(limiter), Some(peer)) = (&state.login_limiter, req.peer_addr())
        && limiter
            .check_key(&limit_key(client_ip(
                peer.ip(),
                req.headers()
                    .get_all("x-forwarded-for")
                    .filter_map(|v| v.to_str().ok()),
                &state.trusted_proxies,
            )))
            .is_err()
    {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many login attempts; try again in a minute",
        ));
    }
    let referer = req
        .headers()
        .get(actix_web::http::header::REFERER)
        .and_then(|v| v.to_str().ok());
    let appid = body
        .appid
        .as_deref()
        .or_else(|| referer.and_then(appid_from_referer));
    let outcome = state.service.login(appid, &body.code).await?;
    Ok(HttpResponse::Ok().json(LoginResponse {
        token: outcome.token,
        token_type: "Bearer",
        expires_in: outcome.expires_in,
        expires_at: rfc3339(outcome.expires_at),
        user_exist: outcome.user_existed,
        user_info: outcome.user.into(),
    }))
}

async fn me(Authenticated(caller): Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(UserBody::from(caller.user))
}

/// `PUT /api/me`: absent fields stay, `null` clears, any other field is refused.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ProfileRequest {
    #[serde(default, deserialize_with = "present")]
    nick_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    avatar_url: Option<Option<String>>,
}

/// Tells a field sent as `null` (`Some(None)`) from a field not sent (`None`, by `default`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

async fn update_me(
    state: web::Data<AppState>,
    Authenticated(caller): Authenticated,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let body: ProfileRequest = json_object(body.into_inner())?;
    let edit = ProfileEdit {
        nick_name: body.nick_name,
        avatar_url: body.avatar_url,
    };
    let user = state.service.update_profile(&caller, edit).await?;
    Ok(HttpResponse::Ok().json(UserBody::from(user)))
}

/// `POST /api/me/userinfo`: what `wx.getUserInfo` returned; other fields it returns
/// (`userInfo`, `cloudID`, `errMsg`) may come along and are ignored.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserInfoRequest {
    raw_data: String,
    signature: String,
    encrypted_data: String,
    iv: String,
}

async fn user_info(
    state: web::Data<AppState>,
    Authenticated(caller): Authenticated,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let body: UserInfoRequest = json_object(body.into_inner())?;
    let data = UserInfoData {
        raw_data: body.raw_data,
        signature: body.signature,
        encrypted_data: body.encrypted_data,
        iv: body.iv,
    };
    let user = state.service.apply_user_info(&caller, data).await?;
    Ok(HttpResponse::Ok().json(UserBody::from(user)))
}

/// `POST /api/me/phone`: `{"code": "<getPhoneNumber code>"}`.
#[derive(Deserialize)]
struct PhoneRequest {
    code: String,
}

async fn phone(
    state: web::Data<AppState>,
    Authenticated(caller): Authenticated,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let body: PhoneRequest = json_object(body.into_inner())?;
    let user = state.service.bind_phone_number(&caller, &body.code).await?;
    Ok(HttpResponse::Ok().json(UserBody::from(user)))
}

/// `POST /api/logout`: no body, or `{"everywhere": true}` for every session of the account.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LogoutRequest {
    #[serde(default)]
    everywhere: bool,
}

async fn logout(
    state: web::Data<AppState>,
    Authenticated(caller): Authenticated,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    // The body is optional: most front ends send none.
    let request: LogoutRequest = if body.iter().all(u8::is_ascii_whitespace) {
        LogoutRequest::default()
    } else {
        let value: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| ApiError::invalid_request(format!("the body is not valid JSON: {e}")))?;
        json_object(value)?
    };
    if request.everywhere {
        state.service.logout_everywhere(&caller).await?;
    } else {
        state.service.logout(&caller).await?;
    }
    Ok(HttpResponse::NoContent().finish())
}

/// `DELETE /api/me`: `{"code": "<a fresh wx.login code>"}`.
#[derive(Deserialize)]
struct DeleteRequest {
    code: String,
}

async fn delete_me(
    state: web::Data<AppState>,
    Authenticated(caller): Authenticated,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let body: DeleteRequest = json_object(body.into_inner())?;
    state.service.delete_account(&caller, &body.code).await?;
    Ok(HttpResponse::NoContent().finish())
}

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

/// `GET /wechat/push/{appid}`: the URL check of WeChat's console.
async fn push_url_check(
    state: web::Data<AppState>,
    appid: web::Path<String>,
    query: web::Query<std::collections::HashMap<String, String>>,
) -> Result<HttpResponse, ApiError> {
    let echostr = state.service.verify_push_url(&appid, &push_query(&query))?;
    Ok(text_plain(echostr))
}

/// `POST /wechat/push/{appid}`: an event, answered `success` once applied (WeChat waits 5 s,
/// then retries).
async fn push(
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

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    // The same path as every other store call: a permit, a pooled connection, a query.
    match tokio::time::timeout(Duration::from_secs(3), state.service.ping()).await {
        Ok(Ok(())) => {
            // Ready or not, and nothing more: counters belong to metrics, not to a public
            // route.
            Ok(HttpResponse::Ok().json(serde_json::json!({ "status": "ready" })))
        }
        outcome => {
            match outcome {
                Ok(Err(e)) => log::warn!("readiness check failed: {}", error_chain(&e)),
                _ => log::warn!("readiness check failed: the database took over 3 s"),
            }
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the database does not answer",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::appid_from_referer;

    #[test]
    fn the_referer_of_wx_request_names_the_app() {
        assert_eq!(
            appid_from_referer("https://servicewechat.com/wx4f4bc4dec97d474b/0/page-frame.html"),
            Some("wx4f4bc4dec97d474b")
        );
        for other in [
            "https://servicewechat.com/",
            "https://servicewechat.com/wx1",
            "http://servicewechat.com/wx1/0/page-frame.html",
            "https://evil.example/wx1/0/page-frame.html",
            "",
        ] {
            assert_eq!(appid_from_referer(other), None, "{other}");
        }
    }
}
