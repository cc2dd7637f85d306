//! Logging in and out: `POST /api/login`, `POST /api/logout`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{UserBody, json_object, rfc3339};
use crate::auth::Authenticated;
use crate::client_addr::limit_key;
use crate::error::{ApiError, ApiErrorKind};
use crate::state::AppState;

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
    /// Seconds until the access token expires (`ACCESS_TOKEN_TTL_SECS`, never past the
    /// session).
    #[schema(minimum = 0)]
    expires_in: i64,
    #[schema(format = DateTime)]
    expires_at: String,
    /// For `POST /api/token/refresh`, when the access token expires.
    refresh_token: String,
    /// Seconds until the session ends: the refresh token's life.
    #[schema(minimum = 0)]
    refresh_expires_in: i64,
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
        "expiresIn": 7200, "expiresAt": "2026-12-01T10:00:00Z",
        "refreshToken": "r1.0193a5f2-7c1e-7d4b-9a3e-2f1c0b9d8e7a.0.9b2xq", "refreshExpiresIn": 604800,
        "userExist": false,
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
    let answer = answer_login(&state, &req, body.into_inner()).await;
    state.metrics.login(match &answer {
        Ok(_) => "ok",
        Err(e) => e.kind().as_str(),
    });
    answer
}

/// The login itself; [`login`] counts its outcome.
async fn answer_login(
    state: &AppState,
    req: &HttpRequest,
    body: serde_json::Value,
) -> Result<HttpResponse, ApiError> {
    let body: LoginRequest = json_object(body)?;
    let client = crate::client_addr::request_client(req, &state.trusted_proxies);
    if let (Some(limiter), Some(key)) = (&state.login_limiter, client.map(limit_key))
        && !state
            .service
            .limits()
            .take(&format!("login:{key}"), state.login_rate_limit, || {
                limiter.check_key(&key).is_ok()
            })
            .await
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
        refresh_token: outcome.refresh_token,
        refresh_expires_in: outcome.refresh_expires_in,
        user_exist: outcome.user_existed,
        user_info: outcome.user.into(),
    }))
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
