use std::time::Duration;

/// Where wxlogin publishes its keys and revocations, and what a token must say to be accepted.
///
/// Built with [`VerifierConfig::new`] from wxlogin's base URL (both URLs derived from it), or
/// with [`VerifierConfig::with_jwks_url`] for a JWKS alone; the `with_*` methods change the
/// defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifierConfig {
    /// `GET` this for the public keys (`{base}/.well-known/jwks.json`).
    pub jwks_url: String,
    /// The `iss` a token must carry.
    pub issuer: String,
    /// The `aud` a token must carry (or contain, when it is a list).
    pub audience: String,
    /// How far this service's clock may differ from wxlogin's: a token is accepted up to this
    /// long after its `exp` and this long before its `nbf`/`iat`. Default 30 s.
    pub leeway: Duration,
    /// An unknown `kid` triggers at most one JWKS fetch per this period, so that a flood of
    /// forged kids cannot make the verifier hammer wxlogin. Default 5 s.
    pub refetch_cooldown: Duration,
    /// The longest a fetched JWKS is used before it is fetched again, whatever its
    /// `Cache-Control: max-age` says. Default 600 s (what wxlogin announces).
    pub jwks_max_age: Duration,
    /// The revocation feed (`{base}/api/token/revocations`); `None` when not followed.
    pub revocations_url: Option<String>,
    /// How long a revocation long poll is held by the server (`wait=`, at most 30 s).
    /// Default 25 s.
    pub revocation_wait: Duration,
    /// Timeout of one JWKS request, and of a revocation request beyond its `wait`. Default 10 s.
    pub http_timeout: Duration,
}

impl VerifierConfig {
    /// The configuration for the wxlogin server at `base_url` (e.g. `https://login.example.com`):
    /// its JWKS at `{base_url}/.well-known/jwks.json` and its revocation feed at
    /// `{base_url}/api/token/revocations`.
    pub fn new(
        base_url: impl AsRef<str>,
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> Self {
        let base = base_url.as_ref().trim_end_matches('/');
        let mut config =
            Self::with_jwks_url(format!("{base}/.well-known/jwks.json"), issuer, audience);
        config.revocations_url = Some(format!("{base}/api/token/revocations"));
        config
    }

    /// A configuration with the JWKS URL alone, for a service that does not follow revocations
    /// (or sets [`VerifierConfig::with_revocations_url`] itself).
    pub fn with_jwks_url(
        jwks_url: impl Into<String>,
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> Self {
        Self {
            jwks_url: jwks_url.into(),
            issuer: issuer.into(),
            audience: audience.into(),
            leeway: Duration::from_secs(30),
            refetch_cooldown: Duration::from_secs(5),
            jwks_max_age: Duration::from_secs(600),
            revocations_url: None,
            revocation_wait: Duration::from_secs(25),
            http_timeout: Duration::from_secs(10),
        }
    }

    /// Sets [`VerifierConfig::leeway`].
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Sets [`VerifierConfig::refetch_cooldown`].
    pub fn with_refetch_cooldown(mut self, cooldown: Duration) -> Self {
        self.refetch_cooldown = cooldown;
        self
    }

    /// Sets [`VerifierConfig::jwks_max_age`].
    pub fn with_jwks_max_age(mut self, max_age: Duration) -> Self {
        self.jwks_max_age = max_age;
        self
    }

    /// Sets [`VerifierConfig::revocations_url`].
    pub fn with_revocations_url(mut self, url: Option<String>) -> Self {
        self.revocations_url = url;
        self
    }

    /// Sets [`VerifierConfig::revocation_wait`]; the server holds a poll at most 30 s.
    pub fn with_revocation_wait(mut self, wait: Duration) -> Self {
        self.revocation_wait = wait.min(Duration::from_secs(30));
        self
    }

    /// Sets [`VerifierConfig::http_timeout`].
    pub fn with_http_timeout(mut self, timeout: Duration) -> Self {
        self.http_timeout = timeout;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_urls_are_derived_from_the_base_url_with_or_without_a_trailing_slash() {
        for base in ["https://login.example.com", "https://login.example.com/"] {
            let config = VerifierConfig::new(base, "wxlogin", "orders");
            assert_eq!(
                config.jwks_url,
                "https://login.example.com/.well-known/jwks.json"
            );
            assert_eq!(
                config.revocations_url.as_deref(),
                Some("https://login.example.com/api/token/revocations")
            );
        }
    }
}
