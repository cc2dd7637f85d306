//! Waiting for a change to reach another instance.

use crate::{Reply, TestApp, assert_error};

/// The first reply that satisfies `done`, asking again until `within` has passed since `since`
/// (for a change to reach another instance); the last reply if none did.
pub async fn eventually<F, Fut>(
    mut ask: F,
    done: impl Fn(&Reply) -> bool,
    since: std::time::Instant,
    within: std::time::Duration,
) -> Reply
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Reply>,
{
    loop {
        let reply = ask().await;
        if done(&reply) || since.elapsed() >= within {
            return reply;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

impl TestApp {
    /// Asserts that within `limit` from `since`, this instance answers `token` with 401
    /// `session_revoked` (another instance's change has reached it).
    pub async fn assert_revoked_within(
        &self,
        token: &str,
        since: std::time::Instant,
        limit: std::time::Duration,
    ) {
        let reply = eventually(|| self.me(token), |r| r.status == 401, since, limit).await;
        assert_error(&reply, 401, "session_revoked");
    }
}
