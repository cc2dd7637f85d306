use wxlogin_store::StoreError;
use wxlogin_token::TokenError;
use wxlogin_wechat::WeChatError;

/// Why a use case failed, in kinds a transport maps to its own statuses.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The code is empty or cannot be a `wx.login` code; WeChat was not asked.
    #[error("the login code is empty or malformed")]
    MalformedCode,
    /// WeChat refused or failed the code exchange.
    #[error(transparent)]
    WeChat(#[from] WeChatError),
    /// The token is not one of ours (or its session belongs to someone else).
    #[error("invalid token: {0}")]
    TokenInvalid(String),
    /// The session behind the token has expired.
    #[error("the session has expired")]
    TokenExpired,
    /// The session behind the token was ended (logout).
    #[error("the session was ended")]
    SessionRevoked,
    /// The `rawData` signature does not match (the data was altered).
    #[error("the rawData signature does not match")]
    InvalidSignature,
    /// The `encryptedData` does not decrypt, or is another app's or another user's data.
    #[error("the encrypted data cannot be used: {0}")]
    DecryptFailed(String),
    /// The session_key held for the user is no longer the one WeChat honours (or can no longer
    /// be read): the user must log in again before their data can be decrypted.
    #[error("the WeChat session_key of this login is stale; log in again")]
    SessionKeyStale,
    /// A profile change breaks a rule; the message says which, for the client.
    #[error("{0}")]
    InvalidProfile(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Something that should not fail did (a token that could not be signed, a lost task).
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<TokenError> for CoreError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Expired => Self::TokenExpired,
            TokenError::Invalid(why) => Self::TokenInvalid(why),
            other => Self::Internal(other.to_string()),
        }
    }
}
