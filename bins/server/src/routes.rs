//! The routes of the HTTP contract.

use std::time::{Duration, UNIX_EPOCH};

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use wxlogin_core::{ProfileEdit, PushQuery, UserInfoData};
use wxlogin_domain::User;

use wxlogin_domain::error_chain;

use crate::auth::Authenticated;
use crate::client_addr::{client_ip, limit_key};
use crate::error::{ApiError, ApiErrorKind};
use crate::state::AppState;

/// One table of every route: it mounts them ([`configure`]) and lists them ([`mounted`]), so
/// that a test can hold the API description (`/openapi.json`) to exactly these.
macro_rules! routes {
    ($($path:literal => { $($method:ident: $handler:path),+ $(,)? }),+ $(,)?) => {
        /// Mounts every route, with JSON errors for wrong methods.
        pub fn configure(cfg: &mut web::ServiceConfig) {
            $( cfg.service(resource($path)$(.route(web::$method().to($handler)))+); )+
        }

        /// Every (path, method) mounted, the path as OpenAPI writes it.
        pub fn mounted() -> Vec<(&'static str, &'static str)> {
            vec![$($(($path, stringify!($method)),)+)+]
        }
    };
}

routes! {
    "/api/login" => { post: login },
    "/api/me" => { get: me, head: me, put: update_me, delete: delete_me },
    "/api/me/userinfo" => { post: user_info },
    "/api/me/phone" => { post: phone },
    "/api/logout" => { post: logout },
    "/healthz" => { get: healthz, head: healthz },
    "/readyz" => { get: readyz, head: readyz },
    "/openapi.json" => { get: crate::openapi::openapi_json, head: crate::openapi::openapi_json },
    "/wechat/push/{appid}" => { get: push_url_check, head: push_url_check, post: push },
}

fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiErrorKind::MethodNotAllowed.error())
}

/// The answer for paths no route serves.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiErrorKind::NotFound.error())
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

/// Reads `body` the way every route that takes one reads it, and `text` as a `Referer`: for
/// the fuzz target (`fuzz/`), which holds that no input panics. Not part of the API.
#[doc(hidden)]
pub fn read_every_body(body: &[u8], text: &str) {
    let _ = appid_from_referer(text);
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return;
    };
    let _ = json_object::<LoginRequest>(value.clone());
    if let Ok(profile) = json_object::<ProfileRequest>(value.clone()) {
        let _ = ProfileEdit {
            nick_name: profile.nick_name,
            avatar_url: profile.avatar_url,
        }
        .validate();
    }
    let _ = json_object::<UserInfoRequest>(value.clone());
    let _ = json_object::<PhoneRequest>(value.clone());
    let _ = json_object::<LogoutRequest>(value.clone());
    let _ = json_object::<DeleteRequest>(value);
}

/// `User` as the contract shows it: no openid, no unionid, RFC 3339 times.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = User, example = json!({
    "id": "0193a5f2-7c1e-7d4b-9a3e-2f1c0b9d8e7a", "nickName": "Olga", "avatarUrl": null,
    "gender": 2, "phoneNumber": null, "apps": ["wx00000000000000fe"],
    "createdAt": "2026-12-01T08:00:00Z", "updatedAt": "2026-12-01T08:00:00Z"
}))]
pub(crate) struct UserBody {
    /// The stable public id of the account, not derived from any openid.
    id: String,
    nick_name: Option<String>,
    avatar_url: Option<String>,
    /// WeChat's number: 0 unknown, 1 male, 2 female.
    #[schema(minimum = 0, maximum = 2)]
    gender: Option<i32>,
    /// As WeChat gave it (country code included outside mainland China); shown to its owner
    /// only.
    phone_number: Option<String>,
    /// The appids the account has logged in through.
    apps: Vec<String>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
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

/// `POST /api/login`.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"code": "0a1b2c3d4e5f6g7h8i9j"}))]
pub(crate) struct LoginRequest {
    /// The code `wx.login()` gave, once.
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

/// The answer to a login.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LoginResponse {
    /// The login token (a compact JWT), for `Authorization: Bearer <token>`.
    token: String,
    /// Always `Bearer`.
    #[schema(value_type = String, example = "Bearer")]
    token_type: &'static str,
    /// Seconds until the token (and its session) expires.
    #[schema(minimum = 0)]
    expires_in: i64,
    #[schema(format = DateTime)]
    expires_at: String,
    /// Whether this WeChat user had an account before this login.
    user_exist: bool,
    user_info: UserBody,
}

/// Log in with a `wx.login` code
///
/// Exchanges the code with WeChat, finds or creates the account, opens a session and answers
/// a token that expires with it. The mini program is the body's `appid`, else the one in the
/// `Referer` that `wx.request` sets, else the only one served.
#[utoipa::path(post, path = "/api/login", tag = "login",
    request_body = LoginRequest,
    params(("Referer" = Option<String>, Header,
        description = "`https://servicewechat.com/{appid}/{version}/page-frame.html`, as `wx.request` sets it")),
    responses((status = 200, description = "Logged in", body = LoginResponse, example = json!({
        "token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIuLi4ifQ.c2lnbmF0dXJl", "tokenType": "Bearer",
        "expiresIn": 604800, "expiresAt": "2026-12-08T08:00:00Z", "userExist": false,
        "userInfo": {"id": "0193a5f2-7c1e-7d4b-9a3e-2f1c0b9d8e7a", "nickName": null,
            "avatarUrl": null, "gender": null, "phoneNumber": null,
            "apps": ["wx00000000000000fe"], "createdAt": "2026-12-01T08:00:00Z",
            "updatedAt": "2026-12-01T08:00:00Z"}
    }))))]
pub(crate) async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let answer = log_in(&state, &req, body.into_inner()).await;
    state.metrics.login(match &answer {
        Ok(_) => "ok",
        Err(e) => e.kind().as_str(),
    });
    answer
}

async fn log_in(
    state: &AppState,
    req: &HttpRequest,
    body: serde_json::Value,
) -> Result<HttpResponse, ApiError> {
    let body: LoginRequest = json_object(body)?;
    let client = req.peer_addr().map(|peer| {
        client_ip(
            peer.ip(),
            req.headers()
                .get_all("x-forwarded-for")
                .filter_map(|v| v.to_str().ok()),
            &state.trusted_proxies,
        )
    });
    if let (Some(limiter), Some(client)) = (&state.login_limiter, client)
        && limiter.check_key(&limit_key(client)).is_err()
    {
        return Err(ApiError::new(
            ApiErrorKind::RateLimited,
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
    let outcome = state.service.login_from(appid, &body.code, client).await?;
    Ok(HttpResponse::Ok().json(LoginResponse {
        token: outcome.token,
        token_type: "Bearer",
        expires_in: outcome.expires_in,
        expires_at: rfc3339(outcome.expires_at),
        user_exist: outcome.user_existed,
        user_info: outcome.user.into(),
    }))
}

/// The caller's account
#[utoipa::path(method(get, head), path = "/api/me", tag = "account",
    responses((status = 200, description = "The caller's account", body = UserBody)))]
pub(crate) async fn me(Authenticated(caller): Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(UserBody::from(caller.user))
}

/// `PUT /api/me`: absent fields stay, `null` clears, any other field is refused.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"nickName": "Olga", "avatarUrl": null}))]
pub(crate) struct ProfileRequest {
    /// At most 64 characters; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 64)]
    nick_name: Option<Option<String>>,
    /// An `http(s)` URL of at most 1024 characters; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 1024)]
    avatar_url: Option<Option<String>>,
}

/// Tells a field sent as `null` (`Some(None)`) from a field not sent (`None`, by `default`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Edit the caller's profile
///
/// A partial update: absent fields stay as they are, `null` clears one. The phone number and
/// the rest come from WeChat only.
#[utoipa::path(put, path = "/api/me", tag = "account", request_body = ProfileRequest,
    responses((status = 200, description = "The updated account", body = UserBody)))]
pub(crate) async fn update_me(
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
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserInfoRequest {
    /// `rawData` of `wx.getUserInfo`.
    raw_data: String,
    /// `signature`: sha1 of rawData and the session_key.
    signature: String,
    /// `encryptedData`, base64.
    encrypted_data: String,
    /// `iv`, base64.
    iv: String,
}

/// Fill the profile from `wx.getUserInfo`
///
/// Verifies `rawData` and decrypts `encryptedData` with the newest session_key of the caller in
/// the session's mini program; data of another app or person is refused.
#[utoipa::path(post, path = "/api/me/userinfo", tag = "account", request_body = UserInfoRequest,
    responses((status = 200, description = "The account with the profile WeChat gave", body = UserBody)))]
pub(crate) async fn user_info(
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
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"code": "e31968a7f94cc5ee25fafc2aef2773f0bb8c3937b22520eb8ee345274d00c144"}))]
pub(crate) struct PhoneRequest {
    /// The code the `getPhoneNumber` button gave.
    code: String,
}

/// Bind the phone number of a `getPhoneNumber` code
#[utoipa::path(post, path = "/api/me/phone", tag = "account", request_body = PhoneRequest,
    responses((status = 200, description = "The account with its phone number", body = UserBody)))]
pub(crate) async fn phone(
    state: web::Data<AppState>,
    Authenticated(caller): Authenticated,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let body: PhoneRequest = json_object(body.into_inner())?;
    let user = state.service.bind_phone_number(&caller, &body.code).await?;
    Ok(HttpResponse::Ok().json(UserBody::from(user)))
}

/// `POST /api/logout`: no body (or `null`), or `{"everywhere": true}` for every session of
/// the account.
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"everywhere": true}))]
pub(crate) struct LogoutRequest {
    /// End every session of the account, in every app, on every instance.
    #[serde(default)]
    everywhere: bool,
}

/// Log out
///
/// Ends the caller's session at once (or, with `everywhere`, all of the account's). The body
/// is optional.
#[utoipa::path(post, path = "/api/logout", tag = "login",
    request_body(content = Option<LogoutRequest>, description = "Optional"),
    responses((status = 204, description = "Logged out")))]
pub(crate) async fn logout(
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
        // `null` is no body too: what a client that always sends its `data` sends.
        if value.is_null() {
            LogoutRequest::default()
        } else {
            json_object(value)?
        }
    };
    if request.everywhere {
        state.service.logout_everywhere(&caller).await?;
    } else {
        state.service.logout(&caller).await?;
    }
    Ok(HttpResponse::NoContent().finish())
}

/// `DELETE /api/me`: `{"code": "<a fresh wx.login code>"}`.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"code": "0a1b2c3d4e5f6g7h8i9j"}))]
pub(crate) struct DeleteRequest {
    /// A fresh `wx.login` code of the same person, in the session's mini program.
    code: String,
}

/// Delete the account
///
/// Re-authenticates by a fresh `wx.login` code of the same person, then deletes the account
/// and everything attached to it, on every instance.
#[utoipa::path(delete, path = "/api/me", tag = "account", request_body = DeleteRequest,
    responses((status = 204, description = "Deleted")))]
pub(crate) async fn delete_me(
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

/// What `/healthz` and `/readyz` answer.
#[derive(Serialize, ToSchema)]
pub(crate) struct Status {
    /// `ok` (serving) or `ready` (the database answers).
    #[schema(value_type = String, example = "ok")]
    status: &'static str,
}

/// Liveness: 200 while the process serves
#[utoipa::path(method(get, head), path = "/healthz", tag = "operations",
    responses((status = 200, description = "Serving", body = Status, example = json!({"status": "ok"}))))]
pub(crate) async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Status { status: "ok" })
}

/// Readiness: 200 when the database answers, 503 otherwise
#[utoipa::path(method(get, head), path = "/readyz", tag = "operations",
    responses((status = 200, description = "Ready", body = Status, example = json!({"status": "ready"}))))]
pub(crate) async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    // The same path as every other store call: a permit, a pooled connection, a query.
    match tokio::time::timeout(Duration::from_secs(3), state.service.ping()).await {
        Ok(Ok(())) => {
            // Ready or not, and nothing more: counters belong to metrics, not to a public
            // route.
            Ok(HttpResponse::Ok().json(Status { status: "ready" }))
        }
        outcome => {
            match outcome {
                Ok(Err(e)) => log::warn!("readiness check failed: {}", error_chain(&e)),
                _ => log::warn!("readiness check failed: the database took over 3 s"),
            }
            Err(ApiError::new(
                ApiErrorKind::Unavailable,
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
