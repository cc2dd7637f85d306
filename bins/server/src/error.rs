//! The one error type of the HTTP API: every failure becomes `{code, error, msg}` here.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError, error::JsonPayloadError};
use serde::Serialize;
use wxlogin_core::{CoreError, ErrorKind};
use wxlogin_domain::error_chain;

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
    /// Maps the kind to the contract's status and `error`, and logs the whole cause chain
    /// once, at a level that says whether an operator must look. Causes are never sent.
    fn from(e: CoreError) -> Self {
        use ErrorKind as K;
        use StatusCode as S;
        let kind = e.kind();
        let chain = error_chain(&e);
        match kind {
            K::WeChatUnavailable | K::StoreUnavailable => log::warn!("{chain}"),
            K::WeChatQuotaExhausted | K::WeChatFailed | K::Internal => log::error!("{chain}"),
            _ => log::debug!("refused: {chain}"),
        }
        match kind {
            K::MalformedCode => Self::new(
                S::BAD_REQUEST,
                "invalid_code",
                "the login code is empty or malformed",
            ),
            K::UnknownApp => Self::new(
                S::BAD_REQUEST,
                "unknown_app",
                "the login names no mini program served here (give its \"appid\")",
            ),
            K::InvalidCode => Self::new(
                S::BAD_REQUEST,
                "invalid_code",
                "WeChat rejected the code (expired, used, or not for this app); get a new one",
            ),
            K::RateLimited => Self::new(
                S::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many login attempts; try again in a minute",
            ),
            K::RiskyUser => Self::new(
                S::FORBIDDEN,
                "risky_user",
                "WeChat blocked this login as high risk",
            ),
            K::WeChatUnavailable => Self::new(
                S::SERVICE_UNAVAILABLE,
                "wechat_unavailable",
                "WeChat is busy or unreachable; try again",
            ),
            K::WeChatQuotaExhausted => Self::new(
                S::SERVICE_UNAVAILABLE,
                "wechat_unavailable",
                "WeChat's daily quota for this call is used up; try again tomorrow",
            ),
            K::WeChatFailed => Self::new(
                S::BAD_GATEWAY,
                "wechat_error",
                "WeChat answered unexpectedly",
            ),
            K::TokenInvalid => Self::new(
                S::UNAUTHORIZED,
                "token_invalid",
                "the login token is invalid; log in again",
            ),
            K::TokenExpired => Self::new(
                S::UNAUTHORIZED,
                "token_expired",
                "the login session has expired; log in again",
            ),
            K::SessionRevoked => Self::new(
                S::UNAUTHORIZED,
                "session_revoked",
                "the login session was ended; log in again",
            ),
            K::InvalidSignature => Self::new(
                S::BAD_REQUEST,
                "invalid_signature",
                "the rawData signature does not match: the data was altered",
            ),
            K::DecryptFailed => Self::new(
                S::BAD_REQUEST,
                "decrypt_failed",
                format!("the encrypted data cannot be used: {}", cause_text(&e)),
            ),
            K::SessionKeyStale => Self::new(
                S::UNAUTHORIZED,
                "token_expired",
                "WeChat no longer honours this login's session key; log in again (wx.login) and retry",
            ),
            K::InvalidProfile => Self::invalid_request(e.to_string()),
            K::UserRateLimited => Self::new(
                S::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many requests for WeChat data from this account; try again in a minute",
            ),
            K::ReauthFailed => Self::new(
                S::FORBIDDEN,
                "reauth_failed",
                "the code does not prove it is you: get a fresh code from wx.login and retry",
            ),
            K::PushRejected => Self::new(
                S::FORBIDDEN,
                "push_rejected",
                "the push is not signed by this app's Token, is stale, or does not decrypt",
            ),
            K::NotFound => Self::new(S::NOT_FOUND, "not_found", "no such route"),
            K::StoreUnavailable => Self::new(
                S::SERVICE_UNAVAILABLE,
                "unavailable",
                "the service is temporarily unavailable",
            ),
            _ => Self::new(
                S::INTERNAL_SERVER_ERROR,
                "internal",
                "internal server error",
            ),
        }
    }
}

/// The text of an error's direct cause: what the client is told about its own bad input.
fn cause_text(e: &CoreError) -> String {
    std::error::Error::source(e).map_or_else(String::new, ToString::to_string)
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
