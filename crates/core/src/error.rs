use wxlogin_domain::{Cause, MediaError, StoreError, TokenError, WeChatError};

/// Why a use case failed. The causes travel as `source`s; [`CoreError::kind`] says what a
/// transport needs to know to answer, so it never matches the layers below.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The code is empty or cannot be a `wx.login` code; WeChat was not asked.
    #[error("the login code is empty or malformed")]
    MalformedCode,
    /// The login names no mini program this service serves, or names none when it serves
    /// several. The text is the appid asked for (public), if one was.
    #[error("no such mini program: {0:?}")]
    UnknownApp(Option<String>),
    /// WeChat refused or failed a call.
    #[error(transparent)]
    WeChat(#[from] WeChatError),
    /// The token is not one of ours (or its session belongs to someone else).
    #[error("invalid token")]
    TokenInvalid(#[source] Cause),
    /// The session behind the token has expired.
    #[error("the session has expired")]
    TokenExpired,
    /// The session behind the token was ended (logout).
    #[error("the session was ended")]
    SessionRevoked,
    /// A refresh token that is not one of ours: malformed, forged, another server's.
    #[error("invalid refresh token")]
    RefreshTokenInvalid(#[source] Cause),
    /// A spent refresh token presented long after its use: a theft signal; the session was
    /// ended.
    #[error("the refresh token was used already; the session was ended")]
    RefreshTokenReused,
    /// The revocation feed's cursor is not one it gave.
    #[error("the revocation feed's cursor is malformed")]
    InvalidCursor,
    /// The `rawData` signature does not match (the data was altered).
    #[error("the rawData signature does not match")]
    InvalidSignature,
    /// The `encryptedData` does not decrypt, or is another app's or another user's data.
    #[error("the encrypted data cannot be used")]
    DecryptFailed(#[source] Cause),
    /// The session_key held for the user is no longer the one WeChat honours (or can no longer
    /// be read): the user must log in again before their data can be decrypted.
    #[error("the WeChat session_key of this login is stale; log in again")]
    SessionKeyStale,
    /// A profile change breaks a rule; the message says which, for the client.
    #[error("{0}")]
    InvalidProfile(String),
    /// The account made more user-data calls this minute than `USER_RATE_LIMIT` allows; WeChat
    /// was not asked.
    #[error("too many user-data calls for this account")]
    UserRateLimited,
    /// An account deletion's code is not a fresh `wx.login` code of the caller.
    #[error("the code does not re-authenticate the caller")]
    ReauthFailed(#[source] Cause),
    /// A WeChat push was refused: bad signature, stale timestamp, or a body that does not
    /// decrypt or parse. The cause is for logs only.
    #[error("the WeChat push was refused")]
    PushRejected(#[source] Cause),
    /// Pushes are not received for this app (not served, or no push settings).
    #[error("WeChat pushes are not received for this app")]
    PushNotConfigured,
    /// The account is banned: its logins and refreshes are refused.
    #[error("the account is disabled")]
    AccountDisabled,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The upload is not an image taken as an avatar (its format, its pixels, its bytes).
    #[error("{0}")]
    InvalidImage(String),
    /// The upload is larger than `AVATAR_MAX_BYTES`.
    #[error("the image is larger than allowed")]
    ImageTooLarge,
    /// WeChat's content security found the content risky.
    #[error("WeChat's content security refused it")]
    ContentRejected,
    /// WeChat's content security could not be asked, and checks fail closed.
    #[error("WeChat's content security cannot be asked now")]
    ContentCheckUnavailable,
    /// Too many uploads are being processed; try again.
    #[error("too many uploads at once")]
    UploadsBusy,
    /// This service takes no uploads (no media store was given to it).
    #[error("uploads are not configured")]
    MediaNotConfigured,
    /// The media store failed.
    #[error(transparent)]
    Media(MediaError),
    /// Something that should not fail did (a token that could not be signed).
    #[error("internal error")]
    Internal(#[source] Cause),
}

/// What went wrong, as a transport needs to know it to answer: one flat list, whatever layer
/// the failure came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The code is empty or malformed; WeChat was not asked.
    MalformedCode,
    /// The login is for a mini program this service does not serve.
    UnknownApp,
    /// WeChat rejected the code (invalid, expired, used, another app's).
    InvalidCode,
    /// WeChat's per-user rate limit.
    RateLimited,
    /// WeChat blocked the user as high risk.
    RiskyUser,
    /// WeChat was busy, unreachable, failed or too slow: try again.
    WeChatUnavailable,
    /// A daily WeChat quota is used up: try again tomorrow.
    WeChatQuotaExhausted,
    /// WeChat answered something it should not have (our credentials refused, an unknown
    /// errcode, a malformed reply): an operator must look.
    WeChatFailed,
    /// The token is not one of ours.
    TokenInvalid,
    /// The session behind the token has expired.
    TokenExpired,
    /// The session behind the token was ended.
    SessionRevoked,
    /// The refresh token is not one of ours.
    RefreshTokenInvalid,
    /// A spent refresh token came back late: the session was ended.
    RefreshTokenReused,
    /// A request the contract does not allow (a malformed cursor).
    InvalidRequest,
    /// The `rawData` signature does not match.
    InvalidSignature,
    /// The encrypted data cannot be used.
    DecryptFailed,
    /// WeChat no longer honours this login's session_key: log in again.
    SessionKeyStale,
    /// A profile edit breaks a rule.
    InvalidProfile,
    /// The account's user-data calls are over their limit.
    UserRateLimited,
    /// An account deletion was not re-authenticated.
    ReauthFailed,
    /// A WeChat push was refused.
    PushRejected,
    /// Nothing is served there (pushes for an app without push settings).
    NotFound,
    /// The store does not answer: try again.
    StoreUnavailable,
    /// The account is banned.
    AccountDisabled,
    /// The upload is not an image taken as an avatar.
    InvalidImage,
    /// The upload is too large.
    PayloadTooLarge,
    /// WeChat's content security refused it.
    ContentRejected,
    /// Something needed is busy or down (uploads, content checks, the media store): try again.
    Unavailable,
    /// A bug or a broken secret: an operator must look.
    Internal,
}

impl CoreError {
    /// What went wrong, for a transport to answer.
    pub fn kind(&self) -> ErrorKind {
        use ErrorKind as K;
        match self {
            Self::MalformedCode => K::MalformedCode,
            Self::UnknownApp(_) => K::UnknownApp,
            Self::WeChat(e) => match e {
                WeChatError::InvalidCode | WeChatError::CodeUsed => K::InvalidCode,
                WeChatError::RateLimited => K::RateLimited,
                WeChatError::RiskyUser => K::RiskyUser,
                WeChatError::Busy
                | WeChatError::Unreachable(_)
                | WeChatError::Unavailable(_)
                | WeChatError::Timeout => K::WeChatUnavailable,
                WeChatError::QuotaExhausted => K::WeChatQuotaExhausted,
                WeChatError::BadCredentials { .. }
                | WeChatError::AccessTokenInvalid { .. }
                | WeChatError::Api { .. }
                | WeChatError::InvalidResponse(_) => K::WeChatFailed,
            },
            Self::TokenInvalid(_) => K::TokenInvalid,
            Self::TokenExpired => K::TokenExpired,
            Self::SessionRevoked => K::SessionRevoked,
            Self::RefreshTokenInvalid(_) => K::RefreshTokenInvalid,
            Self::RefreshTokenReused => K::RefreshTokenReused,
            Self::InvalidCursor => K::InvalidRequest,
            Self::InvalidSignature => K::InvalidSignature,
            Self::DecryptFailed(_) => K::DecryptFailed,
            Self::SessionKeyStale => K::SessionKeyStale,
            Self::InvalidProfile(_) => K::InvalidProfile,
            Self::UserRateLimited => K::UserRateLimited,
            Self::ReauthFailed(_) => K::ReauthFailed,
            Self::PushRejected(_) => K::PushRejected,
            Self::PushNotConfigured => K::NotFound,
            // A secret that cannot be opened does not heal by retrying.
            Self::Store(StoreError::Sealed(_)) | Self::Internal(_) => K::Internal,
            Self::AccountDisabled | Self::Store(StoreError::AccountDisabled) => K::AccountDisabled,
            Self::Store(_) => K::StoreUnavailable,
            Self::InvalidImage(_) => K::InvalidImage,
            Self::ImageTooLarge => K::PayloadTooLarge,
            Self::ContentRejected => K::ContentRejected,
            Self::ContentCheckUnavailable | Self::UploadsBusy | Self::Media(_) => K::Unavailable,
            Self::MediaNotConfigured => K::NotFound,
        }
    }

    pub(crate) fn token_invalid(why: &str) -> Self {
        Self::TokenInvalid(Cause::msg(why))
    }
}

impl From<TokenError> for CoreError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Expired => Self::TokenExpired,
            TokenError::Invalid(why) => Self::TokenInvalid(why),
            other => Self::Internal(Cause::new(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_wechat_failure_has_one_kind() {
        let cases = [
            (WeChatError::InvalidCode, ErrorKind::InvalidCode),
            (WeChatError::CodeUsed, ErrorKind::InvalidCode),
            (WeChatError::Busy, ErrorKind::WeChatUnavailable),
            (WeChatError::Timeout, ErrorKind::WeChatUnavailable),
            (
                WeChatError::Unreachable(Cause::msg("x")),
                ErrorKind::WeChatUnavailable,
            ),
            (WeChatError::QuotaExhausted, ErrorKind::WeChatQuotaExhausted),
            (
                WeChatError::BadCredentials { errcode: 40125 },
                ErrorKind::WeChatFailed,
            ),
        ];
        for (e, kind) in cases {
            assert_eq!(CoreError::from(e).kind(), kind);
        }
    }

    #[test]
    fn a_secret_that_cannot_be_opened_is_internal_and_a_lost_database_unavailable() {
        assert_eq!(
            CoreError::from(StoreError::Sealed(Cause::msg("rotated away"))).kind(),
            ErrorKind::Internal
        );
        assert_eq!(
            CoreError::from(StoreError::Unavailable(Cause::msg("down"))).kind(),
            ErrorKind::StoreUnavailable
        );
    }
}
