//! How tokens are signed and how long they live: `TOKEN_ALG`, `ACCESS_TOKEN_TTL_SECS`,
//! `REFRESH_REUSE_SECS`, `TOKEN_KEY_ROTATION_DAYS`, `TOKEN_CACHE_MB`.

use wxlogin_core::LoginSettings;
use wxlogin_token::SigningAlgorithm;

use super::vars::Vars;

/// How access tokens are signed (`TOKEN_ALG`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenAlgorithm {
    /// An asymmetric key of the deployment's, published at `/.well-known/jwks.json`.
    Asymmetric(SigningAlgorithm),
    /// `TOKEN_SECRET` (the v2 behaviour: no published keys).
    Hs256,
}

/// The token settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSettings {
    /// `TOKEN_ALG`: EdDSA (default), ES256 or HS256.
    pub algorithm: TokenAlgorithm,
    /// `ACCESS_TOKEN_TTL_SECS`: an access token's life, never past its session.
    pub access_token_ttl_secs: i64,
    /// `REFRESH_REUSE_SECS`: how long a spent refresh token is answered again.
    pub refresh_reuse_secs: i64,
    /// `TOKEN_KEY_ROTATION_DAYS`: how long a signing key signs before the next.
    pub key_rotation_days: i64,
    /// `TOKEN_CACHE_MB`, in bytes: the memory of the verified-token cache (0 turns it off).
    pub verified_token_bytes: u64,
}

pub(super) fn token_settings(vars: &mut Vars<'_>) -> TokenSettings {
    let algorithm = match vars.get("TOKEN_ALG").as_deref() {
        None | Some("EdDSA") => TokenAlgorithm::Asymmetric(SigningAlgorithm::EdDsa),
        Some("ES256") => TokenAlgorithm::Asymmetric(SigningAlgorithm::Es256),
        Some("HS256") => TokenAlgorithm::Hs256,
        Some(other) => {
            vars.problem(format!(
                "TOKEN_ALG {other:?} is not one of EdDSA (the default), ES256, HS256"
            ));
            TokenAlgorithm::Asymmetric(SigningAlgorithm::EdDsa)
        }
    };
    let access_token_ttl_secs = vars.number(
        "ACCESS_TOKEN_TTL_SECS",
        LoginSettings::DEFAULT_ACCESS_TOKEN_TTL_SECS,
        60..=7 * 24 * 3600,
    );
    let refresh_reuse_secs = vars.number(
        "REFRESH_REUSE_SECS",
        LoginSettings::DEFAULT_REFRESH_REUSE_SECS,
        0..=300,
    );
    let key_rotation_days = vars.number("TOKEN_KEY_ROTATION_DAYS", 30, 1..=3650);
    let token_cache_mb = vars.number(
        "TOKEN_CACHE_MB",
        LoginSettings::DEFAULT_VERIFIED_TOKEN_BYTES / super::MIB,
        0..=64 * 1024,
    );
    TokenSettings {
        algorithm,
        access_token_ttl_secs,
        refresh_reuse_secs,
        key_rotation_days,
        verified_token_bytes: token_cache_mb * super::MIB,
    }
}
