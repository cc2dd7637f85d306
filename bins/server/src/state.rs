//! What every handler can reach.

use std::net::IpAddr;
use std::sync::Arc;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use wxlogin_core::LoginService;

/// Per-IP limit on login attempts, shared by all workers.
pub type LoginLimiter = DefaultKeyedRateLimiter<IpAddr>;

/// Builds the limiter for `per_minute` attempts per IP; `None` when the limit is off (0).
pub fn login_limiter(per_minute: u32) -> Option<Arc<LoginLimiter>> {
    std::num::NonZeroU32::new(per_minute)
        .map(|n| Arc::new(RateLimiter::keyed(Quota::per_minute(n))))
}

/// The state of the process, one for every worker.
pub struct AppState {
    /// The use cases: one service for the whole process.
    pub service: Arc<LoginService>,
    /// The login rate limiter, if on.
    pub login_limiter: Option<Arc<LoginLimiter>>,
}
