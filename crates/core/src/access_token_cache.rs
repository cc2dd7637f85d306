//! The access token as this process holds it: cached until shortly before it expires, one
//! refresh at a time, and the token WeChat last refused. Fetching is the use case's
//! (`service/access_token.rs`).

use std::sync::atomic::{AtomicI64, AtomicU64};
use std::sync::{Mutex, PoisonError};

use wxlogin_domain::AccessToken;

#[derive(Clone)]
pub(crate) struct Cached {
    pub(crate) token: AccessToken,
    pub(crate) use_until: i64,
}

/// The process-wide state of the access token. Fetching is done by [`LoginService`] methods,
/// which hold the WeChat client and the store.
pub(crate) struct AccessTokenBroker {
    pub(crate) cached: Mutex<Option<Cached>>,
    /// Held while this process refreshes: concurrent callers wait and then reuse its result.
    pub(crate) refresh: tokio::sync::Mutex<()>,
    /// The last token WeChat refused: a normal-mode fetch handing it out again is not enough.
    pub(crate) refused: Mutex<Option<AccessToken>>,
    /// Names this process as lease owner.
    pub(crate) owner: String,
    pub(crate) fetches_here: AtomicU64,
    pub(crate) fetches_total: AtomicI64,
}

impl AccessTokenBroker {
    pub(crate) fn new() -> Self {
        Self {
            cached: Mutex::new(None),
            refresh: tokio::sync::Mutex::new(()),
            refused: Mutex::new(None),
            owner: lease_owner_name(),
            fetches_here: AtomicU64::new(0),
            fetches_total: AtomicI64::new(0),
        }
    }

    pub(crate) fn cached_at(&self, now: i64) -> Option<AccessToken> {
        self.cached
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .filter(|c| now < c.use_until)
            .map(|c| c.token.clone())
    }

    pub(crate) fn remember(&self, token: &AccessToken, use_until: i64) {
        *self.cached.lock().unwrap_or_else(PoisonError::into_inner) = Some(Cached {
            token: token.clone(),
            use_until,
        });
    }

    pub(crate) fn is_refused(&self, token: &AccessToken) -> bool {
        self.refused
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            == Some(token)
    }
}

/// This process's name as a lease owner: its process id and its start time (unique enough
/// among the instances on one database).
fn lease_owner_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("pid{}-{nanos:x}", std::process::id())
}
