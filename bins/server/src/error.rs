//! The one error type of the HTTP API: every failure becomes `{code, error, msg}` here.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError, error::JsonPayloadError};
use serde::Serialize;
use wxlogin_core::CoreError;
use wxlogin_wechat::WeChatError;

/// An error as the client sees it: a status, a kind to branch on, a message to read.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    kind: &'static str,
    msg: String,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: u16,
    error: &'a str,
    msg: &'a str,
}

impl ApiError {
    /// An error of `kind` answered with `status`.
    pub fn new(status: StatusCode, kind: &'static str, msg: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            msg: msg.into(),
        }
    }

    /// 400 `invalid_request`.
    pub fn invalid_request(msg: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", msg)
    }

    /// The kind, for tests and logs.
    pub fn kind(&self) -> &'static str {
        self.kind
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.kind, self.msg)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header(("WWW-Authenticate", "Bearer"));
        }
        response.json(ErrorBody {
            code: self.status.as_u16(),
            error: self.kind,
            msg: &self.msg,
        })
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        use StatusCode as S;
        match e {
            CoreError::MalformedCode => Self::new(
                S::BAD_REQUEST,
                "invalid_code",
                "the login code is empty or malformed",
            ),
            CoreError::WeChat(e) => from_wechat(e),
            CoreError::TokenInvalid(why) => {
                log::debug!("token refused: {why}");
                Self::new(
                    S::UNAUTHORIZED,
                    "token_invalid",
                    "the login token is invalid; log in again",
                )
            }
            CoreError::TokenExpired => Self::new(
                S::UNAUTHORIZED,
                "token_expired",
                "the login session has expired; log in again",
            ),
            CoreError::SessionRevoked => Self::new(
                S::UNAUTHORIZED,
                "session_revoked",
                "the login session was ended; log in again",
            ),
            CoreError::InvalidSignature => Self::new(
                S::BAD_REQUEST,
                "invalid_signature",
                "the rawData signature does not match: the data was altered",
            ),
            CoreError::DecryptFailed(why) => Self::new(
                S::BAD_REQUEST,
                "decrypt_failed",
                format!("the encrypted data cannot be used: {why}"),
            ),
            CoreError::SessionKeyStale => Self::new(
                S::UNAUTHORIZED,
                "token_expired",
                "WeChat no longer honours this login's session key; log in again (wx.login) and retry",
            ),
            CoreError::InvalidProfile(msg) => Self::invalid_request(msg),
            CoreError::Store(e @ wxlogin_store::StoreError::Sealed(_)) => {
                log::error!("sealing: {e}");
                Self::new(
                    S::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal server error",
                )
            }
            CoreError::Store(e) => {
                log::error!("database: {e}");
                Self::new(
                    S::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the service is temporarily unavailable",
                )
            }
            CoreError::Internal(e) => {
                log::error!("internal: {e}");
                Self::new(
                    S::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal server error",
                )
            }
        }
    }
}

fn from_wechat(e: WeChatError) -> ApiError {
    use StatusCode as S;
    match e {
        WeChatError::InvalidCode | WeChatError::CodeUsed => ApiError::new(
            S::BAD_REQUEST,
            "invalid_code",
            "WeChat rejected the code (expired, used, or not for this app); get a new one",
        ),
        WeChatError::RateLimited => ApiError::new(
            S::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many login attempts; try again in a minute",
        ),
        WeChatError::RiskyUser => ApiError::new(
            S::FORBIDDEN,
            "risky_user",
            "WeChat blocked this login as high risk",
        ),
        WeChatError::Busy | WeChatError::Unavailable(_) | WeChatError::Timeout => {
            log::warn!("WeChat unavailable: {e}");
            ApiError::new(
                S::SERVICE_UNAVAILABLE,
                "wechat_unavailable",
                "WeChat is busy or unreachable; try again",
            )
        }
        WeChatError::QuotaExhausted => {
            log::error!("WeChat: {e}");
            ApiError::new(
                S::SERVICE_UNAVAILABLE,
                "wechat_unavailable",
                "WeChat's daily quota for this call is used up; try again tomorrow",
            )
        }
        WeChatError::BadCredentials { .. }
        | WeChatError::AccessTokenInvalid { .. }
        | WeChatError::Api { .. }
        | WeChatError::InvalidResponse(_) => {
            log::error!("WeChat error: {e}");
            ApiError::new(
                S::BAD_GATEWAY,
                "wechat_error",
                "WeChat answered unexpectedly",
            )
        }
    }
}

/// JSON body errors in the contract's shape (actix's default is a plain-text 400).
pub fn json_error(e: JsonPayloadError) -> ApiError {
    match e {
        JsonPayloadError::Overflow { limit }
        | JsonPayloadError::OverflowKnownLength { limit, .. } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body is over the limit of {limit} bytes"),
        ),
        JsonPayloadError::ContentType => {
            ApiError::invalid_request("the body must be JSON (Content-Type: application/json)")
        }
        JsonPayloadError::Deserialize(e) if e.is_data() => {
            ApiError::invalid_request(format!("the body does not fit: {e}"))
        }
        JsonPayloadError::Deserialize(e) => {
            ApiError::invalid_request(format!("the body is not valid JSON: {e}"))
        }
        other => ApiError::invalid_request(format!("the body could not be read: {other}")),
    }
}
