//! HS256 tokens: the v2 format (`TOKEN_ALG=HS256`), and how tokens issued before an upgrade to
//! asymmetric keys still verify until they expire.

use jwt_simple::prelude::{HS256Key, JWTClaims, MACLike};
use wxlogin_domain::{Cause, Clock, RefreshClaim, SessionToken, TokenCodec, TokenError};

use crate::TokenConfig;
use crate::claims::{self, SessionClaims};
use crate::refresh::RefreshKey;

/// The shortest HS256 key accepted: 256 bits, the size of the hash (RFC 7518 §3.2).
pub const MIN_KEY_LEN: usize = 32;

/// An HS256 key checked for length.
#[derive(Clone)]
pub(crate) struct SharedKey(HS256Key);

impl SharedKey {
    /// `key`, which must be at least [`MIN_KEY_LEN`] bytes: `jwt-simple` would accept any
    /// length, and a short HMAC key can be brute-forced offline from a single token.
    pub(crate) fn new(key: &[u8]) -> Result<Self, TokenError> {
        if key.len() < MIN_KEY_LEN {
            return Err(TokenError::KeyTooShort {
                actual: key.len(),
                required: MIN_KEY_LEN,
            });
        }
        Ok(Self(HS256Key::from_bytes(key)))
    }

    pub(crate) fn sign(&self, claims: JWTClaims<SessionClaims>) -> Result<String, TokenError> {
        let header = claims::header();
        self.0
            .authenticate_with_options(claims, &header)
            .map_err(|e| TokenError::Signing(Cause::boxed(e.into())))
    }

    /// The token's claims if this key signed it, expiry not yet checked exactly.
    pub(crate) fn check(
        &self,
        token: &str,
        config: &TokenConfig,
        now: i64,
    ) -> Result<JWTClaims<SessionClaims>, TokenError> {
        self.0
            .verify_token::<SessionClaims>(token, Some(claims::verification_options(config, now)))
            .map_err(claims::refused)
    }
}

/// HS256 [`TokenCodec`] built on `jwt-simple`: one shared secret both signs and verifies, so
/// only services that may mint tokens can check them. [`crate::SignedTokens`] is the default.
pub struct JwtCodec<C> {
    key: SharedKey,
    refresh: RefreshKey,
    config: TokenConfig,
    clock: C,
}

impl<C> std::fmt::Debug for JwtCodec<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtCodec")
            .field("key", &"<redacted>")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<C: Clock> JwtCodec<C> {
    /// A codec signing with `key`, which must be at least [`MIN_KEY_LEN`] bytes. Its refresh
    /// tokens are authenticated with a key derived from it.
    pub fn new(key: &[u8], config: TokenConfig, clock: C) -> Result<Self, TokenError> {
        Ok(Self {
            key: SharedKey::new(key)?,
            refresh: RefreshKey::derive(key)?,
            config,
            clock,
        })
    }
}

impl<C: Clock> TokenCodec for JwtCodec<C> {
    fn issue(&self, token: &SessionToken) -> Result<String, TokenError> {
        self.key
            .sign(claims::claims_for(token, &self.config, self.clock.now()))
    }

    fn verify(&self, token: &str) -> Result<SessionToken, TokenError> {
        let now = self.clock.now();
        claims::session_token(self.key.check(token, &self.config, now)?, now)
    }

    fn issue_refresh(&self, claim: &RefreshClaim) -> Result<String, TokenError> {
        Ok(self.refresh.issue(claim))
    }

    fn verify_refresh(&self, token: &str) -> Result<RefreshClaim, TokenError> {
        self.refresh.verify(token)
    }
}
