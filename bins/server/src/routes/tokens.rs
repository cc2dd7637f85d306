//! Tokens for other services: the published keys (`GET /.well-known/jwks.json`), refreshing
//! (`POST /api/token/refresh`) and the revocation feed (`GET /api/token/revocations`).

use std::time::Duration;

use actix_web::{HttpResponse, http::header, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use wxlogin_domain::Clock;

use super::{json_object, rfc3339};
use crate::error::ApiError;
use crate::state::AppState;

/// The public keys that may have signed a live token
///
/// RFC 7517: `kty`, `crv`, `x` (and `y`), `kid`, `alg`, `use`. Never a private or symmetric
/// key. Verifiers may cache it for ten minutes; a new key is published before it signs.
#[utoipa::path(method(get, head), path = "/.well-known/jwks.json", tag = "tokens",
    responses((status = 200, description = "The key set", body = Object, example = json!({
        "keys": [{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
            "kid": "7e0c3f5a9b1d4e2f8a6c0b3d5e7f9a1c", "alg": "EdDSA", "use": "sig"}]
    }))))]
pub(crate) async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    let now = wxlogin_domain::SystemClock.now();
    HttpResponse::Ok()
        .insert_header((
            header::CACHE_CONTROL,
            format!("public, max-age={}", wxlogin_token::JWKS_MAX_AGE_SECS),
        ))
        .json(state.keys.jwks(now))
}

/// `POST /api/token/refresh`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"refreshToken": "r1.0193a5f2-7c1e-7d4b-9a3e-2f1c0b9d8e7a.0.9b2xq"}))]
pub(crate) struct RefreshRequest {
    /// The refresh token the login (or the last refresh) gave.
    #[schema(max_length = 256)]
    refresh_token: String,
}

/// A new pair of tokens.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RefreshResponse {
    /// The new access token.
    token: String,
    /// Always `Bearer`.
    #[schema(value_type = String, example = "Bearer")]
    token_type: &'static str,
    /// Seconds until the access token expires.
    #[schema(minimum = 0)]
    expires_in: i64,
    #[schema(format = DateTime)]
    expires_at: String,
    /// The refresh token to send next time (the one sent is spent).
    refresh_token: String,
    /// Seconds until the session, and so its refresh tokens, end.
    #[schema(minimum = 0)]
    refresh_expires_in: i64,
}

/// Renew the access token
///
/// A new access token and refresh token for the same session, without WeChat. The refresh
/// token sent is spent; sent again within `REFRESH_REUSE_SECS`, or if it is the one just
/// before the current, it gets the current pair; later, the session ends
/// (`refresh_token_reused`).
#[utoipa::path(post, path = "/api/token/refresh", tag = "tokens", request_body = RefreshRequest,
    responses((status = 200, description = "Renewed", body = RefreshResponse)))]
pub(crate) async fn refresh(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let client = crate::client_addr::request_client(&req, &state.trusted_proxies);
    let answer = answer_refresh(&state, body.into_inner(), client).await;
    state.metrics.refresh(match &answer {
        Ok(_) => "ok",
        Err(e) => e.kind().as_str(),
    });
    answer
}

async fn answer_refresh(
    state: &AppState,
    body: serde_json::Value,
    client: Option<std::net::IpAddr>,
) -> Result<HttpResponse, ApiError> {
    let body: RefreshRequest = json_object(body)?;
    let pair = state
        .service
        .refresh_from(&body.refresh_token, client)
        .await?;
    Ok(HttpResponse::Ok().json(RefreshResponse {
        token: pair.token,
        token_type: "Bearer",
        expires_in: pair.expires_in,
        expires_at: rfc3339(pair.expires_at),
        refresh_token: pair.refresh_token,
        refresh_expires_in: pair.refresh_expires_in,
    }))
}

/// `GET /api/token/revocations` query.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RevocationQuery {
    /// The `cursor` of the last answer; without one, every ended session whose tokens may
    /// still be live.
    cursor: Option<String>,
    /// With a cursor: how long to wait for a session to end when none has, in seconds.
    #[param(minimum = 0, maximum = 30)]
    wait: Option<u64>,
}

/// A session that ended.
#[derive(Serialize, ToSchema)]
pub(crate) struct RevokedBody {
    /// The session (`sid` of its tokens).
    sid: String,
    /// Unix seconds after which no token of it can be live: forget it then.
    until: i64,
}

/// Sessions that ended.
#[derive(Serialize, ToSchema)]
pub(crate) struct RevocationsBody {
    /// Oldest first; an end may come again in a later answer.
    revoked: Vec<RevokedBody>,
    /// Send it back as `cursor`.
    cursor: String,
}

/// Sessions ended while their tokens may be live
///
/// For services that verify tokens offline: refuse tokens whose `sid` is listed. With the
/// last answer's `cursor` and `wait`, it answers as soon as a session ends (long poll). No
/// credential: it lists only random session ids.
#[utoipa::path(get, path = "/api/token/revocations", tag = "tokens", params(RevocationQuery),
    responses((status = 200, description = "Ended sessions", body = RevocationsBody, example = json!({
        "revoked": [{"sid": "0193a5f2-7c1e-7d4b-9a3e-2f1c0b9d8e7a", "until": 1796540000}],
        "cursor": "c1.1796532800123.1"
    }))))]
pub(crate) async fn revocations(
    state: web::Data<AppState>,
    query: web::Query<RevocationQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let wait = match query.wait {
        Some(secs) if secs > 30 => {
            return Err(ApiError::invalid_request("wait is at most 30 seconds"));
        }
        Some(secs) => Duration::from_secs(secs),
        None => Duration::ZERO,
    };
    let page = state
        .service
        .revocations(query.cursor.as_deref(), wait)
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(RevocationsBody {
            revoked: page
                .revoked
                .into_iter()
                .map(|r| RevokedBody {
                    sid: r.session_id,
                    until: r.until,
                })
                .collect(),
            cursor: page.cursor,
        }))
}
