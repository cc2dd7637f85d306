//! Login tokens, as the use cases see them: short access tokens, and the refresh tokens that
//! renew them within their session.

use crate::Cause;

/// What an access token says: who is calling, through which session and app, until when.
///
/// This is the whole readable content of a token: it must never carry the WeChat openid,
/// unionid or session_key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionToken {
    /// The user's public id (the token's `sub`).
    pub user_id: String,
    /// The login session the token belongs to (the `sid` claim).
    pub session_id: String,
    /// The mini program the session was opened through (the `appid` claim).
    pub appid: String,
    /// Unix seconds at which the token expires: never after its session.
    pub expires_at: i64,
}

/// What a refresh token names: a session, and which of its refresh tokens it is (they are
/// numbered from 0, each refresh spending one and handing out the next).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshClaim {
    /// The session it renews.
    pub session_id: String,
    /// Its number within the session.
    pub counter: i64,
}

/// Why a token was refused, or could not be made.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// The token was genuine but its lifetime is over.
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
    /// Signing failed (no signing key is loaded yet, or the library failed).
    #[error("the token could not be signed")]
    Signing(#[source] Cause),
}

/// Issues and verifies login tokens. Synchronous: signing is microseconds of CPU.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait TokenCodec: Send + Sync {
    /// Makes an access token for `token`, expiring exactly at `token.expires_at`.
    fn issue(&self, token: &SessionToken) -> Result<String, TokenError>;
    /// Checks an access token's signature, issuer, audience, type and expiry, and says what it
    /// carries.
    fn verify(&self, token: &str) -> Result<SessionToken, TokenError>;
    /// Makes the refresh token `claim` names. The same claim always gives the same token, so
    /// an answer lost on the way can be given again without storing it.
    fn issue_refresh(&self, claim: &RefreshClaim) -> Result<String, TokenError>;
    /// Checks that a refresh token is one this server made, and says what it names; whether
    /// it is still the session's current one is the store's to say.
    fn verify_refresh(&self, token: &str) -> Result<RefreshClaim, TokenError>;
}
