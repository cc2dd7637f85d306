//! The token codec of v3: access tokens signed with the deployment's current asymmetric key
//! (or with the shared HS256 secret where `TOKEN_ALG=HS256`), verified by the key their `kid`
//! names; refresh tokens authenticated with a key derived from the token secret.

use std::sync::Arc;

use jwt_simple::token::Token;
use wxlogin_domain::{Cause, Clock, RefreshClaim, SessionToken, TokenCodec, TokenError};

use crate::claims::{self, MAX_CLOCK_SKEW_SECS};
use crate::jwt::SharedKey;
use crate::refresh::RefreshKey;
use crate::{KeyRing, TokenConfig};

/// [`TokenCodec`] over a [`KeyRing`]: EdDSA or ES256 access tokens anyone can verify from the
/// published keys, HS256 ones where the ring makes no keys, and the v2 HS256 tokens issued
/// before an upgrade for as long as they can live.
pub struct SignedTokens<C> {
    ring: Arc<KeyRing>,
    shared: SharedKey,
    refresh: RefreshKey,
    /// How long after the first asymmetric key an HS256 token is still taken (the longest a
    /// v2 token lived: a session), in seconds.
    legacy_secs: i64,
    config: TokenConfig,
    clock: C,
}

impl<C> std::fmt::Debug for SignedTokens<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedTokens")
            .field("ring", &self.ring)
            .field("secret", &"<redacted>")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn invalid(why: &'static str) -> TokenError {
    TokenError::Invalid(Cause::msg(why))
}

impl<C: Clock> SignedTokens<C> {
    /// A codec signing with `ring`'s current key, or with `token_secret` (at least
    /// [`crate::MIN_KEY_LEN`] bytes) when the ring makes no keys. HS256 tokens are accepted
    /// for `legacy_secs` after the ring's first key was made: those issued before an upgrade.
    pub fn new(
        ring: Arc<KeyRing>,
        token_secret: &[u8],
        legacy_secs: i64,
        config: TokenConfig,
        clock: C,
    ) -> Result<Self, TokenError> {
        Ok(Self {
            ring,
            shared: SharedKey::new(token_secret)?,
            refresh: RefreshKey::derive(token_secret)?,
            legacy_secs,
            config,
            clock,
        })
    }

    fn signs_hs256(&self) -> bool {
        !self.ring.policy().make_keys
    }

    /// Whether HS256 tokens are taken at `now`.
    fn takes_hs256(&self, now: i64) -> bool {
        if self.signs_hs256() {
            return true;
        }
        self.ring.first_made_at().is_some_and(|first| {
            now <= first
                .saturating_add(self.legacy_secs)
                .saturating_add(MAX_CLOCK_SKEW_SECS as i64)
        })
    }
}

impl<C: Clock> TokenCodec for SignedTokens<C> {
    fn issue(&self, token: &SessionToken) -> Result<String, TokenError> {
        let now = self.clock.now();
        let claims = claims::claims_for(token, &self.config, now);
        if self.signs_hs256() {
            return self.shared.sign(claims);
        }
        let key = self.ring.signer(now).ok_or_else(|| {
            TokenError::Signing(Cause::msg(
                "no signing key is loaded (the store was not read)",
            ))
        })?;
        key.sign(claims)
    }

    fn verify(&self, token: &str) -> Result<SessionToken, TokenError> {
        if claims::too_long(token) {
            return Err(invalid("the token is too long"));
        }
        let now = self.clock.now();
        let metadata = Token::decode_metadata(token)
            .map_err(|e| TokenError::Invalid(Cause::boxed(e.into())))?;
        let claims = match metadata.algorithm() {
            "HS256" if self.takes_hs256(now) => self.shared.check(token, &self.config, now)?,
            "HS256" => return Err(invalid("HS256 tokens are no longer accepted")),
            algorithm => {
                let kid = metadata
                    .key_id()
                    .ok_or_else(|| invalid("the token names no key"))?;
                let key = self
                    .ring
                    .verifier(kid, now)
                    .ok_or_else(|| invalid("the token's key is not one of ours"))?;
                // jwt-simple checks too; said here so that no key is ever tried with another
                // algorithm than its own.
                if key.algorithm.name() != algorithm {
                    return Err(invalid("the token's algorithm is not its key's"));
                }
                key.check(token, &self.config, now)?
            }
        };
        claims::session_token(claims, now)
    }

    fn issue_refresh(&self, claim: &RefreshClaim) -> Result<String, TokenError> {
        Ok(self.refresh.issue(claim))
    }

    fn verify_refresh(&self, token: &str) -> Result<RefreshClaim, TokenError> {
        self.refresh.verify(token)
    }
}
