//! Login tokens, as the use cases see them.

use crate::Cause;

/// What a login token says: who is calling, through which session, until when.
///
/// This is the whole readable content of a token: it must never carry the WeChat openid,
/// unionid or session_key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionToken {
    /// The user's public id (the token's `sub`).
    pub user_id: String,
    /// The login session the token belongs to (the `sid` claim).
    pub session_id: String,
    /// Unix seconds at which the session, and so the token, expires.
    pub expires_at: i64,
}

/// Why a token was refused, or could not be made.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// The token was genuine but its session's lifetime is over.
    #[error("the token has expired")]
    Expired,
    /// The token is not one of ours: malformed, tampered, signed by another key or algorithm,
    /// or for another issuer or audience. The cause is for logs, not for clients.
    #[error("the token is invalid")]
    Invalid(#[source] Cause),
    /// The signing key is too short to be safe.
    #[error("the token key is {actual} bytes long; at least {required} are required")]
    KeyTooShort {
        /// The key's length.
        actual: usize,
        /// The shortest accepted.
        required: usize,
    },
    /// Signing failed (it does not for HS256 in practice, but libraries say it may).
    #[error("the token could not be signed")]
    Signing(#[source] Cause),
}

/// Issues and verifies login tokens. Synchronous: signing is microseconds of CPU.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait TokenCodec: Send + Sync {
    /// Makes a token for `token`, expiring exactly at `token.expires_at`.
    fn issue(&self, token: &SessionToken) -> Result<String, TokenError>;
    /// Checks a token's signature, issuer, audience, type and expiry, and says what it carries.
    fn verify(&self, token: &str) -> Result<SessionToken, TokenError>;
}
