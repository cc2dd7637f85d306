//! What every login token carries and how it is checked, whichever key signed it: the claims,
//! the header's type, and the verification options shared by the HS256 and the asymmetric
//! codecs.

use std::collections::HashSet;

use jwt_simple::JWTError;
use jwt_simple::prelude::{
    Claims, Duration, HeaderOptions, JWTClaims, UnixTimeStamp, VerificationOptions,
};
use serde::{Deserialize, Serialize};
use wxlogin_domain::{Cause, SessionToken, TokenError};

use crate::TokenConfig;

/// How far in the future a token's issuance (`iat`, `nbf`) may be, in seconds: the clock skew
/// between instances that is forgiven. Expiry is exact.
pub const MAX_CLOCK_SKEW_SECS: u64 = 60;

/// The `typ` header our tokens carry, so a token of another kind (an ID token, say) signed with
/// the same key is not taken for a login token (RFC 8725 §3.11; RFC 9068).
pub(crate) const TOKEN_TYPE: &str = "at+jwt";

/// The longest token looked at: ours are a few hundred bytes.
const MAX_TOKEN_LEN: usize = 4096;

/// The claims of ours beside the registered ones.
#[derive(Serialize, Deserialize)]
pub(crate) struct SessionClaims {
    pub(crate) sid: String,
    /// Absent from tokens issued before v3.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) appid: String,
}

/// The claims of a new token for `token`, issued at `now`.
pub(crate) fn claims_for(
    token: &SessionToken,
    config: &TokenConfig,
    now: i64,
) -> JWTClaims<SessionClaims> {
    let mut claims = Claims::with_custom_claims(
        SessionClaims {
            sid: token.session_id.clone(),
            appid: token.appid.clone(),
        },
        Duration::from_secs(0),
    )
    .with_issuer(&config.issuer)
    .with_audience(&config.audience)
    .with_subject(&token.user_id);
    claims.issued_at = Some(unix(now));
    claims.invalid_before = Some(unix(now));
    claims.expires_at = Some(unix(token.expires_at));
    claims
}

/// The header options of every token: its type (the `alg`, and `kid` where there is one, are
/// the key's).
pub(crate) fn header() -> HeaderOptions {
    HeaderOptions {
        signature_type: Some(TOKEN_TYPE.to_owned()),
        ..HeaderOptions::default()
    }
}

/// The checks every key's verification makes, at `now`.
pub(crate) fn verification_options(config: &TokenConfig, now: i64) -> VerificationOptions {
    VerificationOptions {
        allowed_issuers: Some(HashSet::from([config.issuer.clone()])),
        allowed_audiences: Some(HashSet::from([config.audience.clone()])),
        required_content_type: None,
        required_signature_type: Some(TOKEN_TYPE.to_owned()),
        // Instances of one deployment issue each other's tokens, and their clocks differ a
        // little: a token issued by a clock ahead of this one has `iat` and `nbf` in this
        // one's future. They are forgiven up to MAX_CLOCK_SKEW_SECS; `exp` is checked
        // exactly in `session_token` (jwt-simple's tolerance would forgive it too, and its
        // default would accept a token 15 minutes late).
        time_tolerance: Some(Duration::from_secs(MAX_CLOCK_SKEW_SECS)),
        artificial_time: Some(unix(now)),
        max_token_length: Some(MAX_TOKEN_LEN),
        ..VerificationOptions::default()
    }
}

/// Whether `token` is too long to be looked at.
pub(crate) fn too_long(token: &str) -> bool {
    token.len() > MAX_TOKEN_LEN
}

/// What a verification by jwt-simple returned, as a [`TokenError`].
pub(crate) fn refused(error: jwt_simple::Error) -> TokenError {
    match error.downcast_ref::<JWTError>() {
        Some(JWTError::TokenHasExpired) => TokenError::Expired,
        _ => TokenError::Invalid(Cause::boxed(error.into())),
    }
}

/// What a verified token says, once its expiry is checked exactly at `now`.
pub(crate) fn session_token(
    claims: JWTClaims<SessionClaims>,
    now: i64,
) -> Result<SessionToken, TokenError> {
    // jwt-simple accepts a token without `exp`; ours always have one.
    let expires_at = claims
        .expires_at
        .ok_or_else(|| TokenError::Invalid(Cause::msg("the token has no expiry")))?;
    let expires_at = i64::try_from(expires_at.as_secs()).unwrap_or(i64::MAX);
    // Exact, whatever the tolerance above: a token lives through its expiry second.
    if now > expires_at {
        return Err(TokenError::Expired);
    }
    let user_id = claims
        .subject
        .ok_or_else(|| TokenError::Invalid(Cause::msg("the token has no subject")))?;
    Ok(SessionToken {
        user_id,
        session_id: claims.custom.sid,
        appid: claims.custom.appid,
        expires_at,
    })
}

/// Unix seconds as jwt-simple counts them (a negative time is the epoch).
pub(crate) fn unix(secs: i64) -> UnixTimeStamp {
    Duration::from_secs(u64::try_from(secs).unwrap_or(0))
}
