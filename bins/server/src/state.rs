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

/// Forgets the addresses whose limit has refilled: without it the limiter keeps every address
/// that ever logged in (about 58 bytes each, without bound). Run it every minute or so.
pub fn prune_login_limiter(limiter: &LoginLimiter) {
    limiter.retain_recent();
    limiter.shrink_to_fit();
}

/// The state of the process, one for every worker.
pub struct AppState {
    /// The use cases: one service for the whole process.
    pub service: Arc<LoginService>,
    /// The token signing keys, for `/.well-known/jwks.json`.
    pub keys: Arc<wxlogin_token::KeyRing>,
    /// What `/metrics` reports (counted whether or not it is served).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The login rate limiter of this process, if on: what decides when limits are not
    /// shared by the instances (SQLite), or when the shared store fails.
    pub login_limiter: Option<Arc<LoginLimiter>>,
    /// `LOGIN_RATE_LIMIT`: attempts per client address per minute (0: off).
    pub login_rate_limit: u32,
    /// The reverse proxies whose `X-Forwarded-For` is believed (`TRUSTED_PROXIES`).
    pub trusted_proxies: Vec<crate::client_addr::Network>,
    /// Where avatar files are kept, for `/media/avatars/{name}`.
    pub media: Option<Arc<dyn wxlogin_domain::MediaStore>>,
    /// `AVATAR_MAX_BYTES`: the upload route stops reading beyond it.
    pub avatar_max_bytes: usize,
    /// Uploads being read or decoded at once (twice `AVATAR_UPLOAD_CONCURRENCY`): what bounds
    /// the memory uploads hold, however slowly their bodies arrive.
    pub upload_turns: Arc<tokio::sync::Semaphore>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_forgets_addresses_whose_limit_has_refilled() {
        // 600 a minute: an attempt is refilled after 0.1 s, and a key is dropped once its state
        // is two refills old.
        let limiter = login_limiter(600).expect("on");
        for i in 0..100u8 {
            assert!(limiter.check_key(&IpAddr::from([198, 51, 100, i])).is_ok());
        }
        assert_eq!(limiter.len(), 100);
        std::thread::sleep(std::time::Duration::from_millis(400));
        prune_login_limiter(&limiter);
        assert_eq!(
            limiter.len(),
            0,
            "memory does not grow with every address ever seen"
        );
    }
}
