use std::collections::HashSet;

use jwt_simple::JWTError;
use jwt_simple::prelude::{
    Claims, Duration, HS256Key, HeaderOptions, JWTClaims, MACLike, UnixTimeStamp,
    VerificationOptions,
};
use serde::{Deserialize, Serialize};

use wxlogin_domain::{Cause, Clock, SessionToken, TokenCodec, TokenError};

/// The shortest HS256 key accepted: 256 bits, the size of the hash (RFC 7518 §3.2).
pub const MIN_KEY_LEN: usize = 32;

/// How far in the future a token's issuance (`iat`, `nbf`) may be, in seconds: the clock skew
/// between instances that is forgiven. Expiry is exact.
pub const MAX_CLOCK_SKEW_SECS: u64 = 60;

/// The `typ` header our tokens carry, so a token of another kind (an ID token, say) signed with
/// the same key is not taken for a login token (RFC 8725 §3.11).
const TOKEN_TYPE: &str = "at+jwt";

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

#[derive(Serialize, Deserialize)]
struct SessionClaim {
    sid: String,
}

/// HS256 [`TokenCodec`] built on `jwt-simple`.
pub struct JwtCodec<C> {
    key: HS256Key,
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
    /// An issuer signing with `key`, which must be at least [`MIN_KEY_LEN`] bytes:
    /// `jwt-simple` would accept any length, and a short HMAC key can be brute-forced offline
    /// from a single token.
    pub fn new(key: &[u8], config: TokenConfig, clock: C) -> Result<Self, TokenError> {
        if key.len() < MIN_KEY_LEN {
            return Err(TokenError::KeyTooShort {
                actual: key.len(),
                required: MIN_KEY_LEN,
            });
        }
        Ok(Self {
            key: HS256Key::from_bytes(key),
            config,
            clock,
        })
    }

    fn options(&self) -> VerificationOptions {
        VerificationOptions {
            allowed_issuers: Some(HashSet::from([self.config.issuer.clone()])),
            allowed_audiences: Some(HashSet::from([self.config.audience.clone()])),
            required_content_type: None,
            required_signature_type: Some(TOKEN_TYPE.to_owned()),
            // Instances of one deployment issue each other's tokens, and their clocks differ a
            // little: a token issued by a clock ahead of this one has `iat` and `nbf` in this
            // one's future. They are forgiven up to MAX_CLOCK_SKEW_SECS; `exp` is checked
            // exactly in `verify` (jwt-simple's tolerance would forgive it too, and its
            // default would accept a token 15 minutes late).
            time_tolerance: Some(Duration::from_secs(MAX_CLOCK_SKEW_SECS)),
            artificial_time: Some(unix(self.clock.now())),
            max_token_length: Some(4096),
            ..VerificationOptions::default()
        }
    }
}

fn unix(secs: i64) -> UnixTimeStamp {
    Duration::from_secs(u64::try_from(secs).unwrap_or(0))
}

impl<C: Clock> TokenCodec for JwtCodec<C> {
    fn issue(&self, token: &SessionToken) -> Result<String, TokenError> {
        let now = self.clock.now();
        let mut claims: JWTClaims<SessionClaim> = Claims::with_custom_claims(
            SessionClaim {
                sid: token.session_id.clone(),
            },
            Duration::from_secs(0),
        )
        .with_issuer(&self.config.issuer)
        .with_audience(&self.config.audience)
        .with_subject(&token.user_id);
        claims.issued_at = Some(unix(now));
        claims.invalid_before = Some(unix(now));
        claims.expires_at = Some(unix(token.expires_at));
        let header = HeaderOptions {
            signature_type: Some(TOKEN_TYPE.to_owned()),
            ..HeaderOptions::default()
        };
        self.key
            .authenticate_with_options(claims, &header)
            .map_err(|e| TokenError::Signing(Cause::boxed(e.into())))
    }

    fn verify(&self, token: &str) -> Result<SessionToken, TokenError> {
        let claims = self
            .key
            .verify_token::<SessionClaim>(token, Some(self.options()))
            .map_err(|e| match e.downcast_ref::<JWTError>() {
                Some(JWTError::TokenHasExpired) => TokenError::Expired,
                _ => TokenError::Invalid(Cause::boxed(e.into())),
            })?;
        // jwt-simple accepts a token without `exp`; ours always have one.
        let expires_at = claims
            .expires_at
            .ok_or_else(|| TokenError::Invalid(Cause::msg("the token has no expiry")))?;
        // Exact, whatever the tolerance above: a token lives through its expiry second.
        if self.clock.now() > i64::try_from(expires_at.as_secs()).unwrap_or(i64::MAX) {
            return Err(TokenError::Expired);
        }
        let user_id = claims
            .subject
            .ok_or_else(|| TokenError::Invalid(Cause::msg("the token has no subject")))?;
        Ok(SessionToken {
            user_id,
            session_id: claims.custom.sid,
            expires_at: i64::try_from(expires_at.as_secs()).unwrap_or(i64::MAX),
        })
    }
}
