//! What every handler can reach.

use std::net::IpAddr;
use std::sync::Arc;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use wxlogin_core::LoginService;
use wxlogin_store::DieselUserStore;
use wxlogin_token::{JwtIssuer, SystemClock};
use wxlogin_wechat::HttpWeChatClient;

/// The login use case as the server runs it.
pub type Service = LoginService<HttpWeChatClient, DieselUserStore, JwtIssuer<SystemClock>>;

/// Per-IP limit on login attempts, shared by all workers.
pub type LoginLimiter = DefaultKeyedRateLimiter<IpAddr>;

/// Builds the limiter for `per_minute` attempts per IP; `None` when the limit is off (0).
pub fn login_limiter(per_minute: u32) -> Option<Arc<LoginLimiter>> {
    std::num::NonZeroU32::new(per_minute)
        .map(|n| Arc::new(RateLimiter::keyed(Quota::per_minute(n))))
}

/// Per-worker state (the WeChat client is bound to its worker's thread).
pub struct AppState {
    /// The login use case.
    pub service: Service,
    /// The login rate limiter, if on.
    pub login_limiter: Option<Arc<LoginLimiter>>,
}
