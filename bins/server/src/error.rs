//! The one error type of the HTTP API: every failure becomes `{code, error, msg}` here.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError, error::JsonPayloadError};
use serde::Serialize;
use utoipa::ToSchema;
use wxlogin_core::{CoreError, ErrorKind};
use wxlogin_domain::error_chain;

/// An error as the client sees it: a status, a kind to branch on, a message to read.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    kind: ApiErrorKind,
    msg: String,
}

/// Every `error` an answer can carry. One enum, so that `/openapi.json` lists exactly the
/// kinds the code can send, and a front end can switch over them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApiErrorKind {
    /// 400: the body is not JSON, has wrong types or missing fields, or values out of bounds.
    InvalidRequest,
    /// 400: the login code is empty or malformed, or WeChat rejected it.
    InvalidCode,
    /// 400: the login names no configured mini program, or none when several are served.
    UnknownApp,
    /// 400: `rawData` whose signature does not match.
    InvalidSignature,
    /// 400: `encryptedData` that does not decrypt or is another app's or person's.
    DecryptFailed,
    /// 400: an upload that is not a JPEG, PNG, WebP or GIF within the limits.
    InvalidImage,
    /// 400: WeChat's content security found the nickname risky.
    ContentRejected,
    /// 401: no token was sent.
    NotLoggedIn,
    /// 401: a malformed token, a bad signature, a wrong issuer or audience.
    TokenInvalid,
    /// 401: the session behind the token has expired.
    TokenExpired,
    /// 401: the session was ended (logout, deletion, merge).
    SessionRevoked,
    /// 401: a refresh token that is malformed, forged, or not this server's.
    RefreshTokenInvalid,
    /// 401: a spent refresh token presented too late: the session was ended.
    RefreshTokenReused,
    /// 401: a request to the admin API without a valid admin key (admin listener only).
    AdminUnauthorized,
    /// 403: WeChat flags the user as high risk.
    RiskyUser,
    /// 403: the account is banned: its logins and refreshes are refused. Final: logging in
    /// again does not help.
    AccountDisabled,
    /// 403: `DELETE /api/me` with a code that is not the caller's.
    ReauthFailed,
    /// 403: a WeChat push with a bad signature, a stale timestamp, or undecryptable.
    PushRejected,
    /// 404: no such route (or a push to an app without push settings).
    NotFound,
    /// 405: the route does not take that method.
    MethodNotAllowed,
    /// 413: the body is over the limit.
    PayloadTooLarge,
    /// 429: too many attempts, or WeChat's own limit.
    RateLimited,
    /// 502: WeChat answered something that is neither success nor a known error.
    #[serde(rename = "wechat_error")]
    WeChatError,
    /// 503: WeChat is busy, unreachable, timed out, or out of quota.
    #[serde(rename = "wechat_unavailable")]
    WeChatUnavailable,
    /// 503: the database cannot be reached.
    Unavailable,
    /// 500: a bug; the log has the cause.
    Internal,
}

impl ApiErrorKind {
    /// Every kind, for the API description and its tests.
    pub const ALL: [Self; 26] = [
        Self::InvalidRequest,
        Self::InvalidCode,
        Self::UnknownApp,
        Self::InvalidSignature,
        Self::DecryptFailed,
        Self::InvalidImage,
        Self::ContentRejected,
        Self::NotLoggedIn,
        Self::TokenInvalid,
        Self::TokenExpired,
        Self::SessionRevoked,
        Self::RefreshTokenInvalid,
        Self::RefreshTokenReused,
        Self::AdminUnauthorized,
        Self::RiskyUser,
        Self::AccountDisabled,
        Self::ReauthFailed,
        Self::PushRejected,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::PayloadTooLarge,
        Self::RateLimited,
        Self::WeChatError,
        Self::WeChatUnavailable,
        Self::Unavailable,
        Self::Internal,
    ];

    /// The one status each kind is answered with, as the contract's tables say.
    pub fn status(self) -> StatusCode {
        use StatusCode as S;
        match self {
            Self::InvalidRequest
            | Self::InvalidCode
            | Self::UnknownApp
            | Self::InvalidSignature
            | Self::DecryptFailed
            | Self::InvalidImage
            | Self::ContentRejected => S::BAD_REQUEST,
            Self::NotLoggedIn
            | Self::TokenInvalid
            | Self::TokenExpired
            | Self::SessionRevoked
            | Self::RefreshTokenInvalid
            | Self::RefreshTokenReused
            | Self::AdminUnauthorized => S::UNAUTHORIZED,
            Self::RiskyUser | Self::AccountDisabled | Self::ReauthFailed | Self::PushRejected => {
                S::FORBIDDEN
            }
            Self::NotFound => S::NOT_FOUND,
            Self::MethodNotAllowed => S::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge => S::PAYLOAD_TOO_LARGE,
            Self::RateLimited => S::TOO_MANY_REQUESTS,
            Self::WeChatError => S::BAD_GATEWAY,
            Self::WeChatUnavailable | Self::Unavailable => S::SERVICE_UNAVAILABLE,
            Self::Internal => S::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message of this kind when nothing more particular is said: what the API
    /// description shows, and what every answer of the kind says unless its cause adds to it.
    pub fn default_msg(self) -> &'static str {
        match self {
            Self::InvalidRequest => "the request does not fit this route",
            Self::InvalidCode => {
                "WeChat rejected the code (expired, used, or not for this app); get a new one"
            }
            Self::UnknownApp => "the login names no mini program served here (give its \"appid\")",
            Self::InvalidSignature => "the rawData signature does not match: the data was altered",
            Self::DecryptFailed => "the encrypted data cannot be used",
            Self::InvalidImage => {
                "the upload is not a JPEG, PNG, WebP or GIF image within the limits"
            }
            Self::ContentRejected => "WeChat's content security refused it; change it and retry",
            Self::NotLoggedIn => "log in first: no token was sent",
            Self::TokenInvalid => "the login token is invalid; log in again",
            Self::TokenExpired => "the login session has expired; log in again",
            Self::SessionRevoked => "the login session was ended; log in again",
            Self::RefreshTokenInvalid => "the refresh token is invalid; log in again",
            Self::RefreshTokenReused => {
                "the refresh token was already used; the session was ended: log in again"
            }
            Self::AdminUnauthorized => "a valid admin key is required (Authorization: Bearer)",
            Self::RiskyUser => "WeChat blocked this login as high risk",
            Self::AccountDisabled => "this account is disabled; logging in again will not help",
            Self::ReauthFailed => {
                "the code does not prove it is you: get a fresh code from wx.login and retry"
            }
            Self::PushRejected => {
                "the push is not signed by this app's Token, is stale, or does not decrypt"
            }
            Self::NotFound => "no such route",
            Self::MethodNotAllowed => "this route does not take that method",
            Self::PayloadTooLarge => "the body is over the limit",
            Self::RateLimited => "too many login attempts; try again in a minute",
            Self::WeChatError => "WeChat answered unexpectedly",
            Self::WeChatUnavailable => "WeChat is busy or unreachable; try again",
            Self::Unavailable => "the service is temporarily unavailable",
            Self::Internal => "internal server error",
        }
    }

    /// An error of this kind with its [`Self::default_msg`].
    pub fn error(self) -> ApiError {
        ApiError::new(self, self.default_msg())
    }

    /// The `error` text of this kind.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidCode => "invalid_code",
            Self::UnknownApp => "unknown_app",
            Self::InvalidSignature => "invalid_signature",
            Self::DecryptFailed => "decrypt_failed",
            Self::InvalidImage => "invalid_image",
            Self::ContentRejected => "content_rejected",
            Self::NotLoggedIn => "not_logged_in",
            Self::TokenInvalid => "token_invalid",
            Self::TokenExpired => "token_expired",
            Self::SessionRevoked => "session_revoked",
            Self::RefreshTokenInvalid => "refresh_token_invalid",
            Self::RefreshTokenReused => "refresh_token_reused",
            Self::AdminUnauthorized => "admin_unauthorized",
            Self::RiskyUser => "risky_user",
            Self::AccountDisabled => "account_disabled",
            Self::ReauthFailed => "reauth_failed",
            Self::PushRejected => "push_rejected",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadTooLarge => "payload_too_large",
            Self::RateLimited => "rate_limited",
            Self::WeChatError => "wechat_error",
            Self::WeChatUnavailable => "wechat_unavailable",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }
}

/// The body of every error answer.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"code": 401, "error": "session_revoked", "msg": "the login session was ended; log in again"}))]
pub struct ErrorBody {
    /// The HTTP status, repeated for clients that only see the body.
    pub code: u16,
    /// What went wrong, to branch on.
    pub error: ApiErrorKind,
    /// What went wrong, for people; never a secret, never a cause from inside.
    pub msg: String,
}

impl ApiError {
    /// An error of `kind`, answered with the kind's status.
    pub fn new(kind: ApiErrorKind, msg: impl Into<String>) -> Self {
        Self {
            status: kind.status(),
            kind,
            msg: msg.into(),
        }
    }

    /// 400 `invalid_request`.
    pub fn invalid_request(msg: impl Into<String>) -> Self {
        Self::new(ApiErrorKind::InvalidRequest, msg)
    }

    /// The kind, for tests and logs.
    pub fn kind(&self) -> ApiErrorKind {
        self.kind
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.kind.as_str(),
            self.msg
        )
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
            msg: self.msg.clone(),
        })
    }
}

impl From<CoreError> for ApiError {
    /// Maps the kind to the contract's status and `error`, and logs the whole cause chain
    /// once, at a level that says whether an operator must look. Causes are never sent.
    fn from(e: CoreError) -> Self {
        use ErrorKind as K;
        let kind = e.kind();
        let chain = error_chain(&e);
        match kind {
            K::WeChatUnavailable | K::StoreUnavailable | K::Unavailable => log::warn!("{chain}"),
            K::WeChatQuotaExhausted | K::WeChatFailed | K::Internal => log::error!("{chain}"),
            _ => log::debug!("refused: {chain}"),
        }
        match kind {
            K::MalformedCode => Self::new(
                ApiErrorKind::InvalidCode,
                "the login code is empty or malformed",
            ),
            K::UnknownApp => ApiErrorKind::UnknownApp.error(),
            K::InvalidCode => ApiErrorKind::InvalidCode.error(),
            K::RateLimited => ApiErrorKind::RateLimited.error(),
            K::RiskyUser => ApiErrorKind::RiskyUser.error(),
            K::WeChatUnavailable => ApiErrorKind::WeChatUnavailable.error(),
            K::WeChatQuotaExhausted => Self::new(
                ApiErrorKind::WeChatUnavailable,
                "WeChat's daily quota for this call is used up; try again tomorrow",
            ),
            K::WeChatFailed => ApiErrorKind::WeChatError.error(),
            K::TokenInvalid => ApiErrorKind::TokenInvalid.error(),
            K::TokenExpired => ApiErrorKind::TokenExpired.error(),
            K::SessionRevoked => ApiErrorKind::SessionRevoked.error(),
            K::RefreshTokenInvalid => ApiErrorKind::RefreshTokenInvalid.error(),
            K::RefreshTokenReused => ApiErrorKind::RefreshTokenReused.error(),
            K::InvalidRequest => ApiErrorKind::InvalidRequest.error(),
            K::InvalidSignature => ApiErrorKind::InvalidSignature.error(),
            K::DecryptFailed => Self::new(
                ApiErrorKind::DecryptFailed,
                format!("the encrypted data cannot be used: {}", cause_text(&e)),
            ),
            K::SessionKeyStale => Self::new(
                ApiErrorKind::TokenExpired,
                "WeChat no longer honours this login's session key; log in again (wx.login) and retry",
            ),
            K::InvalidProfile => Self::invalid_request(e.to_string()),
            K::UserRateLimited => Self::new(
                ApiErrorKind::RateLimited,
                "too many of these requests from this account (each costs WeChat calls or an image's decoding); try again in a minute",
            ),
            K::ReauthFailed => ApiErrorKind::ReauthFailed.error(),
            K::AccountDisabled => ApiErrorKind::AccountDisabled.error(),
            K::PushRejected => ApiErrorKind::PushRejected.error(),
            K::NotFound => ApiErrorKind::NotFound.error(),
            K::StoreUnavailable => ApiErrorKind::Unavailable.error(),
            // The image library's words for what is wrong with the upload: about the
            // client's own bytes, never a path or a secret.
            K::InvalidImage => Self::new(ApiErrorKind::InvalidImage, e.to_string()),
            K::PayloadTooLarge => Self::new(
                ApiErrorKind::PayloadTooLarge,
                "the image is larger than allowed (AVATAR_MAX_BYTES)",
            ),
            K::ContentRejected => ApiErrorKind::ContentRejected.error(),
            K::Unavailable => ApiErrorKind::Unavailable.error(),
            _ => ApiErrorKind::Internal.error(),
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
            ApiErrorKind::PayloadTooLarge,
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
