//! Limits that hold for the whole deployment when the store can count them for every instance
//! (PostgreSQL), and for this process otherwise; and what happens when that store fails.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use wxlogin_domain::{Clock, SharedLimits, StoreError, error_chain};

/// The limits of a deployment: rate limits and quota pauses counted by the shared store when
/// there is one ([`LoginServiceBuilder::shared_limits`](crate::LoginServiceBuilder::shared_limits)),
/// by each caller's per-process limiter otherwise.
///
/// When the shared store fails (the database is unreachable), each call is decided by the
/// per-process limiter alone: a deployment of N instances then allows up to N times its
/// limits, which beats refusing every login or letting every one through. The failure is
/// logged once when it starts, and once when the store answers again, not once per request.
pub struct DeploymentLimits {
    shared: Option<Arc<dyn SharedLimits>>,
    clock: Arc<dyn Clock>,
    failing: AtomicBool,
    /// After a failure, when rate limits ask the shared store again.
    retry_shared_at_ms: AtomicI64,
    fallbacks: AtomicU64,
}

/// How long rate limits stay with the per-process limiters after the shared store failed,
/// before asking it again.
pub const RETRY_SHARED_AFTER_MS: i64 = 5_000;

impl std::fmt::Debug for DeploymentLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeploymentLimits")
            .field("shared", &self.shared.is_some())
            .field("failing", &self.failing.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl DeploymentLimits {
    pub(crate) fn new(shared: Option<Arc<dyn SharedLimits>>, clock: Arc<dyn Clock>) -> Self {
        Self {
            shared,
            clock,
            failing: AtomicBool::new(false),
            retry_shared_at_ms: AtomicI64::new(0),
            fallbacks: AtomicU64::new(0),
        }
    }

    /// Whether limits are counted for the whole deployment (else per process).
    pub fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    /// How many decisions fell back to a per-process limiter because the shared store failed,
    /// since the process started.
    pub fn fallbacks(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }

    /// Spends one of the `per_minute` calls of `key` (0: no limit). `local`, the caller's
    /// per-process limiter, is asked first: it counts every call this process sees, and a call
    /// it refuses is refused (the deployment has seen at least as many), without a database
    /// round trip, so a flood from one client is turned away in memory. A call it allows is
    /// then counted for the whole deployment, when shared; when the shared store fails, the
    /// local answer stands, and the store is not asked again for [`RETRY_SHARED_AFTER_MS`]
    /// (each call would otherwise wait for the database's timeout).
    pub async fn take(&self, key: &str, per_minute: u32, local: impl FnOnce() -> bool) -> bool {
        if per_minute == 0 {
            return true;
        }
        if !local() {
            return false;
        }
        let Some(shared) = &self.shared else {
            return true;
        };
        let now_ms = self.clock.now_ms();
        if now_ms < self.retry_shared_at_ms.load(Ordering::Relaxed) {
            self.fallbacks.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        match shared.take(key, per_minute, now_ms).await {
            Ok(allowed) => {
                self.answered();
                allowed
            }
            Err(e) => {
                self.failed(&e);
                true
            }
        }
    }

    /// Whether `key` is paused for the whole deployment; `None` when nobody shares pauses or
    /// the store failed (the caller's own memory decides).
    pub(crate) async fn paused(&self, key: &str) -> Option<bool> {
        let shared = self.shared.as_ref()?;
        match shared.paused(key, self.clock.now_ms()).await {
            Ok(paused) => {
                self.answered();
                Some(paused)
            }
            Err(e) => {
                self.failed(&e);
                None
            }
        }
    }

    /// Pauses `key` for the whole deployment until `until_ms`, when pauses are shared (the
    /// caller pauses itself too, which holds if this fails).
    pub(crate) async fn pause_until(&self, key: &str, until_ms: i64) {
        let Some(shared) = &self.shared else {
            return;
        };
        match shared.pause_until(key, until_ms).await {
            Ok(()) => self.answered(),
            Err(e) => self.failed(&e),
        }
    }

    /// Forgets the counters that are back to a full allowance; how many (0 when not shared).
    pub async fn purge(&self) -> Result<usize, StoreError> {
        match &self.shared {
            Some(shared) => shared.purge(self.clock.now_ms()).await,
            None => Ok(0),
        }
    }

    fn answered(&self) {
        if self.failing.swap(false, Ordering::Relaxed) {
            log::warn!(
                "the shared limits answer again: rate limits and quota pauses hold for the \
                 whole deployment once more"
            );
        }
    }

    fn failed(&self, e: &StoreError) {
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
        self.retry_shared_at_ms.store(
            self.clock.now_ms().saturating_add(RETRY_SHARED_AFTER_MS),
            Ordering::Relaxed,
        );
        if !self.failing.swap(true, Ordering::Relaxed) {
            log::error!(
                "the shared limits cannot be counted ({}): until the database answers again, \
                 each instance applies LOGIN_RATE_LIMIT, USER_RATE_LIMIT and WeChat's quota \
                 pauses by itself, so the deployment allows up to one limit per instance",
                error_chain(e)
            );
        }
    }
}

/// The unix millisecond at which the clock minute after `now_ms` starts: WeChat counts the
/// content-check quota per clock minute.
pub(crate) fn next_minute_ms(now_ms: i64) -> i64 {
    (now_ms.div_euclid(60_000) + 1) * 60_000
}

/// The unix millisecond of the next midnight in Beijing (UTC+8): WeChat's daily quotas (the
/// paid phone numbers) start again then.
pub(crate) fn next_beijing_midnight_ms(now_ms: i64) -> i64 {
    const DAY: i64 = 86_400_000;
    const OFFSET: i64 = 8 * 3_600_000;
    (now_ms + OFFSET).div_euclid(DAY).saturating_add(1) * DAY - OFFSET
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_end_at_the_next_clock_minute_and_beijing_midnight() {
        assert_eq!(next_minute_ms(120_000), 180_000);
        assert_eq!(next_minute_ms(179_999), 180_000);
        // 2026-12-06T15:59:59Z is 23:59:59 in Beijing: midnight there is one second later.
        let before = 1_796_572_799_000;
        assert_eq!(next_beijing_midnight_ms(before), before + 1000);
        // 16:00:00Z is Beijing's midnight itself: the next is a day later.
        assert_eq!(
            next_beijing_midnight_ms(before + 1000),
            before + 1000 + 86_400_000
        );
    }
}
