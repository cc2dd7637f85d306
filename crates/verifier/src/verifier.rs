//! Checking one token: its header, its key, its signature, its claims, its session.

use std::sync::Arc;

use jwt_simple::JWTError;
use jwt_simple::prelude::{Audiences, Duration as JwtDuration, Token, VerificationOptions};
use reqwest::Url;
use serde::Deserialize;
use url::Host;

use crate::claims::Claims;
use crate::config::VerifierConfig;
use crate::error::{ConfigError, VerifyError};
use crate::follower::{Follower, RevocationFollower};
use crate::http::HttpGetter;
use crate::jwks::{EDDSA, ES256};
use crate::key_cache::KeyCache;
use crate::revocations::Revocations;

/// wxlogin's tokens are a few hundred bytes; a longer one is refused before any parsing.
const MAX_TOKEN_LEN: usize = 4096;
/// The `typ` of wxlogin's access tokens (RFC 9068), so that another kind of token signed by the
/// same key is not taken for one.
const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// The claims wxlogin adds to the registered ones. Optional here so that a missing one is
/// reported as such rather than as a parse failure.
#[derive(Deserialize)]
struct WxClaims {
    #[serde(default)]
    sid: Option<String>,
    #[serde(default)]
    appid: Option<String>,
}

/// Verifies wxlogin access tokens offline. Cheap to clone (one `Arc`); clones share the keys
/// and the revocations. Build one per process and hand clones to every handler.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    issuer: String,
    audience: String,
    leeway: JwtDuration,
    keys: KeyCache,
    revocations: Arc<Revocations>,
    http: HttpGetter,
    revocations_url: Option<Url>,
    revocation_wait: std::time::Duration,
    http_timeout: std::time::Duration,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("issuer", &self.inner.issuer)
            .field("audience", &self.inner.audience)
            .finish_non_exhaustive()
    }
}

/// `url` if it is `https`, or `http` to a loopback address (a sidecar, a test): the keys
/// fetched over plain HTTP across a network could be anyone's, and would mint tokens.
fn http_url(url: &str, which: &'static str) -> Result<Url, ConfigError> {
    Url::parse(url)
        .ok()
        .filter(|url| match url.scheme() {
            "https" => true,
            "http" => match url.host() {
                Some(Host::Domain(name)) => name == "localhost",
                Some(Host::Ipv4(ip)) => ip.is_loopback(),
                Some(Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            },
            _ => false,
        })
        .ok_or(ConfigError::InvalidUrl { which })
}

impl Verifier {
    /// A verifier for `config`. Fetches nothing yet: the keys on first use (or
    /// [`Verifier::warm_up`]), revocations once [`Verifier::follow_revocations`] is called.
    pub fn new(config: VerifierConfig) -> Result<Self, ConfigError> {
        let jwks_url = http_url(&config.jwks_url, "jwks_url")?;
        let revocations_url = config
            .revocations_url
            .as_deref()
            .map(|url| http_url(url, "revocations_url"))
            .transpose()?;
        let http = HttpGetter::new(config.http_timeout)?;
        Ok(Self {
            inner: Arc::new(Inner {
                issuer: config.issuer,
                audience: config.audience,
                leeway: JwtDuration::from_secs(config.leeway.as_secs()),
                keys: KeyCache::new(
                    jwks_url,
                    http.clone(),
                    config.http_timeout,
                    config.refetch_cooldown,
                    config.jwks_max_age,
                ),
                revocations: Arc::new(Revocations::new(config.leeway.as_secs())),
                http,
                revocations_url,
                revocation_wait: config.revocation_wait,
                http_timeout: config.http_timeout,
            }),
        })
    }

    /// Fetches the keys now (at start-up, so that the first request does not wait for them and
    /// a wrong URL shows at once). Returns how many usable keys were published.
    pub async fn warm_up(&self) -> Result<usize, VerifyError> {
        self.inner.keys.warm_up().await
    }

    /// Starts following the revocation feed on the current tokio runtime, until the returned
    /// guard is dropped. Tokens of the sessions it announces are then refused with
    /// [`VerifyError::Revoked`].
    pub fn follow_revocations(&self) -> Result<RevocationFollower, ConfigError> {
        let url = self
            .inner
            .revocations_url
            .clone()
            .ok_or(ConfigError::NoRevocationsUrl)?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| ConfigError::NoRuntime)?;
        let follower = Follower {
            http: self.inner.http.clone(),
            url,
            wait: self.inner.revocation_wait,
            timeout: self.inner.http_timeout,
            revocations: Arc::clone(&self.inner.revocations),
        };
        Ok(follower.spawn(&runtime))
    }

    /// How many ended sessions are held (each until its tokens are dead), for a metric.
    pub fn revoked_sessions(&self) -> usize {
        self.inner.revocations.len()
    }

    /// Verifies `token` (the bare JWT, without `Bearer `) and returns its claims.
    ///
    /// With the keys fetched and fresh, this does no I/O and never waits: parse, one signature
    /// check, a few comparisons.
    pub async fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(VerifyError::Malformed {
                reason: "longer than any wxlogin token",
            });
        }
        let header = Token::decode_metadata(token).map_err(|_| VerifyError::Malformed {
            reason: "the header does not decode",
        })?;
        let alg = header.algorithm();
        // Before the key is even looked up: `none` and HMAC (whose "secret" an attacker would
        // take from the public key) are never wxlogin's.
        if alg != EDDSA && alg != ES256 {
            return Err(VerifyError::UnsupportedAlgorithm);
        }
        if !header
            .signature_type()
            .is_some_and(|typ| typ.eq_ignore_ascii_case(ACCESS_TOKEN_TYPE))
        {
            return Err(VerifyError::WrongType);
        }
        let kid = header.key_id().ok_or(VerifyError::MissingKeyId)?;
        let key = self.inner.keys.key(kid).await?;
        if key.alg() != alg {
            return Err(VerifyError::AlgorithmMismatch);
        }
        let options = VerificationOptions {
            time_tolerance: Some(self.inner.leeway),
            max_token_length: Some(MAX_TOKEN_LEN),
            ..VerificationOptions::default()
        };
        let claims = key.verify::<WxClaims>(token, options).map_err(classify)?;
        self.check(claims)
    }

    fn check(
        &self,
        claims: jwt_simple::prelude::JWTClaims<WxClaims>,
    ) -> Result<Claims, VerifyError> {
        if claims.issuer.as_deref() != Some(self.inner.issuer.as_str()) {
            return Err(VerifyError::WrongIssuer);
        }
        let audience_ok = match &claims.audiences {
            Some(Audiences::AsString(aud)) => *aud == self.inner.audience,
            Some(Audiences::AsSet(auds)) => auds.contains(&self.inner.audience),
            None => false,
        };
        if !audience_ok {
            return Err(VerifyError::WrongAudience);
        }
        let missing = |reason| VerifyError::Malformed { reason };
        // jwt-simple accepts a token without `exp`; one that never expires is not wxlogin's.
        let exp = claims.expires_at.ok_or(missing("no exp"))?.as_secs();
        let iat = claims.issued_at.ok_or(missing("no iat"))?.as_secs();
        let nbf = claims.invalid_before.map_or(iat, |nbf| nbf.as_secs());
        let sub = claims.subject.ok_or(missing("no sub"))?;
        let sid = claims.custom.sid.ok_or(missing("no sid"))?;
        let appid = claims.custom.appid.ok_or(missing("no appid"))?;
        if self.inner.revocations.is_revoked(&sid) {
            return Err(VerifyError::Revoked);
        }
        Ok(Claims {
            sub,
            sid,
            appid,
            iat,
            nbf,
            exp,
        })
    }
}

/// jwt-simple's verdict as one of ours; its own texts are not kept, as a parse error could
/// quote part of the token.
fn classify(error: jwt_simple::Error) -> VerifyError {
    match error.downcast_ref::<JWTError>() {
        Some(JWTError::InvalidSignature) => VerifyError::BadSignature,
        Some(JWTError::TokenHasExpired) => VerifyError::Expired,
        Some(JWTError::TokenNotValidYet | JWTError::ClockDrift) => VerifyError::NotYetValid,
        Some(JWTError::AlgorithmMismatch) => VerifyError::AlgorithmMismatch,
        _ => VerifyError::Malformed {
            reason: "the signature or claims do not decode",
        },
    }
}

#[cfg(test)]
mod url_tests {
    use super::http_url;

    #[test]
    fn keys_come_over_https_or_from_this_machine_only() {
        for good in [
            "https://login.example.com/.well-known/jwks.json",
            "http://127.0.0.1:8080/.well-known/jwks.json",
            "http://[::1]:8080/x",
            "http://localhost/x",
        ] {
            assert!(http_url(good, "jwks_url").is_ok(), "{good}");
        }
        for bad in [
            "http://login.example.com/.well-known/jwks.json",
            "http://10.0.0.5/x",
            "ftp://127.0.0.1/x",
            "not a url",
        ] {
            assert!(http_url(bad, "jwks_url").is_err(), "{bad}");
        }
    }
}
