//! Limits one store counts for every instance of a deployment: rate limits (logins per client
//! address, WeChat calls per account) and pauses after WeChat says an app's quota is spent.

use async_trait::async_trait;

use crate::StoreError;

/// Counters shared by every instance, so that N instances allow a limit once, not N times.
///
/// Keys are namespaced by their user (`login:<address>`, `user:<account>`,
/// `pause:<api>:<appid>`). Times are unix milliseconds, passed in by the caller's clock.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait SharedLimits: Send + Sync {
    /// Spends one of the `per_minute` calls `key` may make (as many at once, then one every
    /// `60 s / per_minute`); `false` when that is over the limit, and then nothing is spent.
    async fn take(&self, key: &str, per_minute: u32, now_ms: i64) -> Result<bool, StoreError>;

    /// Pauses `key` until `until_ms` (a pause already longer stays as it is).
    async fn pause_until(&self, key: &str, until_ms: i64) -> Result<(), StoreError>;

    /// Whether `key` is paused at `now_ms`.
    async fn paused(&self, key: &str, now_ms: i64) -> Result<bool, StoreError>;

    /// Forgets the keys that are back to a full allowance (or whose pause is over) at `now_ms`;
    /// how many.
    async fn purge(&self, now_ms: i64) -> Result<usize, StoreError>;
}
