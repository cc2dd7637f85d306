#![doc = include_str!("../README.md")]

mod claims;
mod jwt;
mod keys;
mod policy;
mod refresh;
mod ring;
mod signed;

pub use claims::MAX_CLOCK_SKEW_SECS;
pub use jwt::{JwtCodec, MIN_KEY_LEN};
pub use keys::SigningAlgorithm;
pub use policy::{JWKS_MAX_AGE_SECS, KEY_SYNC_SECS, KeyPolicy, KeyState, PUBLISH_LEAD_SECS};
pub use refresh::MAX_REFRESH_TOKEN_LEN;
pub use ring::{KeyError, KeyInfo, KeyRing, SyncReport};
pub use signed::SignedTokens;

/// The old name of [`JwtCodec`], which verifies as well as issues.
#[deprecated(note = "renamed to JwtCodec: it verifies tokens as well as issuing them")]
pub type JwtIssuer<C> = JwtCodec<C>;

/// Who issues tokens and for whom; both are checked on verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenConfig {
    /// The `iss` claim.
    pub issuer: String,
    /// The `aud` claim.
    pub audience: String,
}

impl Default for TokenConfig {
    fn default() -> Self {
        Self {
            issuer: "wxlogin".into(),
            audience: "wxlogin-api".into(),
        }
    }
}
