//! The published keys, by kid: fetched lazily, refreshed after their max-age, refetched on an
//! unknown kid at most once per cooldown, one fetch at a time.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use reqwest::Url;

use crate::error::{ErrorChain, FetchError, VerifyError};
use crate::http::HttpGetter;
use crate::jwks::{self, PublicKey};

/// A JWKS of a few keys is a few hundred bytes; anything near this is not wxlogin's.
pub(crate) const MAX_JWKS_BYTES: usize = 64 * 1024;

/// The keys as last fetched. Replaced whole, never changed in place, so a verification reads
/// one consistent set under a read lock held for a map lookup.
struct KeySet {
    keys: HashMap<String, Arc<PublicKey>>,
    /// When these keys are to be fetched again; `None` before the first successful fetch.
    fresh_until: Option<Instant>,
}

impl KeySet {
    fn is_fresh(&self, now: Instant) -> bool {
        self.fresh_until.is_some_and(|until| now < until)
    }
}

/// Whoever holds this lock is the one fetching: the others wait for its answer instead of
/// fetching too (single flight).
struct FetchState {
    last_attempt: Option<Instant>,
    last_failed: bool,
}

pub(crate) struct KeyCache {
    url: Url,
    http: HttpGetter,
    timeout: Duration,
    cooldown: Duration,
    max_age: Duration,
    current: RwLock<Arc<KeySet>>,
    fetch: tokio::sync::Mutex<FetchState>,
}

impl KeyCache {
    pub(crate) fn new(
        url: Url,
        http: HttpGetter,
        timeout: Duration,
        cooldown: Duration,
        max_age: Duration,
    ) -> Self {
        Self {
            url,
            http,
            timeout,
            cooldown,
            max_age,
            current: RwLock::new(Arc::new(KeySet {
                keys: HashMap::new(),
                fresh_until: None,
            })),
            fetch: tokio::sync::Mutex::new(FetchState {
                last_attempt: None,
                last_failed: false,
            }),
        }
    }

    fn snapshot(&self) -> Arc<KeySet> {
        // A panic elsewhere while holding the lock cannot leave a half-written set: the set is
        // swapped whole, so the poisoned value is still a good one.
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The key named `kid`. With fresh keys that hold it, no I/O and no await.
    pub(crate) async fn key(&self, kid: &str) -> Result<Arc<PublicKey>, VerifyError> {
        {
            let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
            if current.is_fresh(Instant::now())
                && let Some(key) = current.keys.get(kid)
            {
                return Ok(Arc::clone(key));
            }
        }
        self.key_after_fetch(kid).await
    }

    async fn key_after_fetch(&self, kid: &str) -> Result<Arc<PublicKey>, VerifyError> {
        let mut state = self.fetch.lock().await;
        let now = Instant::now();
        let set = self.snapshot();
        if set.is_fresh(now)
            && let Some(key) = set.keys.get(kid)
        {
            // Fetched by whoever held the lock before us.
            return Ok(Arc::clone(key));
        }
        let recently = state
            .last_attempt
            .is_some_and(|at| now.duration_since(at) < self.cooldown);
        if recently {
            // Either someone just fetched for us (the kid is simply unknown) or just failed:
            // fetching again now is what a flood of forged kids would want.
            return match set.keys.get(kid) {
                Some(key) => Ok(Arc::clone(key)),
                None if set.fresh_until.is_none() || state.last_failed => {
                    Err(VerifyError::Jwks(FetchError::RecentlyFailed))
                }
                None => Err(VerifyError::UnknownKey),
            };
        }
        state.last_attempt = Some(now);
        match self.fetch_keys().await {
            Ok((keys, max_age)) => {
                state.last_failed = false;
                let lifetime = max_age
                    .unwrap_or(self.max_age)
                    .clamp(self.cooldown, self.max_age.max(self.cooldown));
                let found = keys.get(kid).cloned();
                let set = Arc::new(KeySet {
                    keys,
                    fresh_until: Some(Instant::now() + lifetime),
                });
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = set;
                found.ok_or(VerifyError::UnknownKey)
            }
            Err(e) => {
                state.last_failed = true;
                log::warn!(
                    "wxlogin-verifier: fetching the JWKS from {} failed: {}",
                    self.url,
                    ErrorChain(&e)
                );
                // Keys past their max-age still verify the tokens they signed: better than
                // refusing every user while wxlogin is unreachable.
                match set.keys.get(kid) {
                    Some(key) => Ok(Arc::clone(key)),
                    None => Err(VerifyError::Jwks(e)),
                }
            }
        }
    }

    async fn fetch_keys(
        &self,
    ) -> Result<(HashMap<String, Arc<PublicKey>>, Option<Duration>), FetchError> {
        let answer = self
            .http
            .get(self.url.clone(), self.timeout, MAX_JWKS_BYTES)
            .await?;
        if answer.status != 200 {
            return Err(FetchError::Status(answer.status));
        }
        let keys = jwks::parse(&answer.body)?;
        log::debug!(
            "wxlogin-verifier: fetched {} key(s) from {}",
            keys.len(),
            self.url
        );
        Ok((keys, answer.max_age))
    }

    /// Fetches the keys now unless fetched within the cooldown (a warm-up at start).
    pub(crate) async fn warm_up(&self) -> Result<usize, VerifyError> {
        match self.key_after_fetch("").await {
            Ok(_) | Err(VerifyError::UnknownKey) => Ok(self.snapshot().keys.len()),
            Err(e) => Err(e),
        }
    }
}
