use thiserror::Error;

/// Why a token was refused. None of the texts includes the token or any part of it.
///
/// Every kind but [`VerifyError::Jwks`] means "this token is not acceptable" (answer 401);
/// [`VerifyError::Jwks`] means the verifier could not decide because wxlogin's keys could not
/// be fetched (answer 503): see [`VerifyError::is_unavailable`].
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// Not a compact JWT, or a header or claims that do not parse, or a required claim
    /// (`sub`, `sid`, `appid`, `iat`, `exp`) missing.
    #[error("malformed token: {reason}")]
    Malformed {
        /// What was wrong, in words that never quote the token.
        reason: &'static str,
    },
    /// The header names an algorithm wxlogin never signs with (`none`, `HS256`, `RS256`...):
    /// only `EdDSA` and `ES256` are accepted.
    #[error("the token's algorithm is not accepted (only EdDSA and ES256 are)")]
    UnsupportedAlgorithm,
    /// The header has no `kid`, so no published key can be chosen.
    #[error("the token names no key (no kid)")]
    MissingKeyId,
    /// The header's `typ` is not `at+jwt`: some other kind of token.
    #[error("the token is not an access token (typ is not at+jwt)")]
    WrongType,
    /// No published key has the token's `kid`, even after refetching the JWKS (or within the
    /// refetch cooldown).
    #[error("the token's key is not published by the issuer")]
    UnknownKey,
    /// The header's `alg` is not the algorithm of the key its `kid` names.
    #[error("the token's algorithm does not match its key's")]
    AlgorithmMismatch,
    /// The signature does not verify: forged or altered.
    #[error("the token's signature does not verify")]
    BadSignature,
    /// `exp` is further in the past than the leeway.
    #[error("the token has expired")]
    Expired,
    /// `nbf` or `iat` is further in the future than the leeway.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `iss` is not the configured issuer.
    #[error("the token was issued by someone else")]
    WrongIssuer,
    /// `aud` is not (or does not contain) the configured audience.
    #[error("the token is meant for another audience")]
    WrongAudience,
    /// The token's session has ended (logout, theft, ban...), as the revocation feed said.
    #[error("the token's session has ended")]
    Revoked,
    /// The JWKS could not be fetched and no key to decide with is held.
    #[error("the issuer's keys could not be fetched")]
    Jwks(#[source] FetchError),
}

impl VerifyError {
    /// True when the verifier could not decide (wxlogin's keys unreachable), rather than the
    /// token being bad: a service answers 503 to this, 401 to the rest.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, VerifyError::Jwks(_))
    }

    /// The HTTP status wxlogin itself answers for this: 503 when the keys are unreachable,
    /// 401 otherwise.
    pub fn status(&self) -> u16 {
        if self.is_unavailable() { 503 } else { 401 }
    }

    /// The contract's `error` kind for this, so that a service answers a bad token the way
    /// wxlogin does and the mini-program client reacts the same way (it refreshes on
    /// `token_expired`, logs in again on `session_revoked` or `token_invalid`).
    pub fn kind(&self) -> &'static str {
        match self {
            VerifyError::Expired => "token_expired",
            VerifyError::Revoked => "session_revoked",
            VerifyError::Jwks(_) => "unavailable",
            _ => "token_invalid",
        }
    }
}

/// Why fetching the JWKS or the revocation feed failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum FetchError {
    /// Connecting, sending, receiving or timing out.
    #[error("request failed")]
    Http(#[source] reqwest::Error),
    /// An answer other than 200.
    #[error("answered HTTP {0}")]
    Status(u16),
    /// A body larger than the limit (a JWKS of a few keys is a few hundred bytes).
    #[error("answer larger than {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// A body that is not the JSON expected.
    #[error("answer is not the JSON expected")]
    Json(#[source] serde_json::Error),
    /// A JWKS with no key this verifier can use (EdDSA/Ed25519 or ES256/P-256, with a kid).
    #[error("the JWKS holds no usable key")]
    NoUsableKey,
    /// The last fetch failed less than the refetch cooldown ago; not retried before it ends.
    #[error("the last fetch failed less than the refetch cooldown ago")]
    RecentlyFailed,
}

/// Why a [`crate::Verifier`] could not be built, or could not follow revocations.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A URL of the configuration does not parse, or is neither `https` nor `http` to a
    /// loopback address.
    #[error("{which} is not an https URL (or http to a loopback address)")]
    InvalidUrl {
        /// Which field: `jwks_url` or `revocations_url`.
        which: &'static str,
    },
    /// The HTTP client could not be built (its TLS set-up).
    #[error("the HTTP client could not be built")]
    HttpClient(#[source] reqwest::Error),
    /// [`crate::Verifier::follow_revocations`] without a `revocations_url`.
    #[error("no revocations_url is configured")]
    NoRevocationsUrl,
    /// [`crate::Verifier::follow_revocations`] outside a tokio runtime.
    #[error("following revocations needs a tokio runtime")]
    NoRuntime,
}

/// An error and its causes on one line, for logs.
pub(crate) struct ErrorChain<'a>(pub(crate) &'a dyn std::error::Error);

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}
