//! Following the revocation feed: a long poll kept open against wxlogin, whose answers go into
//! [`Revocations`].

use std::future::Future;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::Url;
use serde::Deserialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{Interval, MissedTickBehavior};

use crate::error::{ErrorChain, FetchError};
use crate::http::HttpGetter;
use crate::revocations::Revocations;

/// The full list (no cursor) holds every session ended within an access token's life: at
/// ~60 bytes an entry this is ~250k sessions.
const MAX_FEED_BYTES: usize = 16 * 1024 * 1024;
/// An answer with nothing in it that came back this fast means the server did not hold the
/// poll (a proxy, an old server): wait the rest before asking again rather than spin. Events
/// meanwhile are not lost (the cursor keeps them), only delayed by at most this.
const MIN_EMPTY_POLL_GAP: Duration = Duration::from_millis(250);
/// The first retry after a failure, doubled on each further failure up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How often dead entries are forgotten, even while a poll is pending.
const FORGET_EVERY: Duration = Duration::from_secs(1);

/// The background task following wxlogin's revocation feed, from
/// [`crate::Verifier::follow_revocations`]. Dropping it stops the task (revocations already
/// heard are still refused until they expire, but no new ones arrive).
#[derive(Debug)]
pub struct RevocationFollower {
    task: JoinHandle<()>,
    synced: watch::Receiver<bool>,
}

impl RevocationFollower {
    /// Waits until the feed's first answer (every session ended whose tokens may still be live)
    /// has been applied. Before that, a token of a session ended earlier would be accepted:
    /// a service that must never let one through awaits this before serving.
    pub async fn synced(&self) {
        let mut synced = self.synced.clone();
        // Err only if the task ended, which it does not while this guard lives.
        let _ = synced.wait_for(|synced| *synced).await;
    }

    /// Whether the feed's first answer has been applied.
    pub fn is_synced(&self) -> bool {
        *self.synced.borrow()
    }

    /// Stops following (the same as dropping it).
    pub fn stop(self) {}
}

impl Drop for RevocationFollower {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One revoked session as the feed lists it.
#[derive(Deserialize)]
struct Revoked {
    sid: String,
    until: u64,
}

/// A 200 answer of the feed.
#[derive(Deserialize)]
struct Page {
    revoked: Vec<Revoked>,
    cursor: String,
}

/// The `error` of an error answer (the rest of the envelope is for people).
#[derive(Deserialize)]
struct ErrorBody {
    error: String,
}

enum Poll {
    Page(Page),
    /// The server no longer knows the cursor (400 `invalid_request`): start over without one.
    BadCursor,
}

pub(crate) struct Follower {
    pub(crate) http: HttpGetter,
    pub(crate) url: Url,
    pub(crate) wait: Duration,
    pub(crate) timeout: Duration,
    pub(crate) revocations: Arc<Revocations>,
}

impl Follower {
    pub(crate) fn spawn(self, runtime: &tokio::runtime::Handle) -> RevocationFollower {
        let (synced_tx, synced) = watch::channel(false);
        let task = runtime.spawn(self.run(synced_tx));
        RevocationFollower { task, synced }
    }

    async fn run(self, synced: watch::Sender<bool>) {
        let mut forget_tick = tokio::time::interval(FORGET_EVERY);
        forget_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut cursor: Option<String> = None;
        let mut failures = 0_u32;
        // Cursors refused in a row without a long poll succeeding in between: a server that
        // refuses every cursor must not make this loop fetch the full list back to back.
        let mut restarts = 0_u32;
        loop {
            let started = Instant::now();
            let polled_with_cursor = cursor.is_some();
            let outcome = self
                .forgetting(&mut forget_tick, self.poll(cursor.as_deref()))
                .await;
            let pause = match outcome {
                Ok(Poll::Page(page)) => {
                    failures = 0;
                    if polled_with_cursor {
                        restarts = 0;
                    }
                    let empty = page.revoked.is_empty();
                    let now = unix_now();
                    for revoked in page.revoked {
                        self.revocations.insert(revoked.sid, revoked.until, now);
                    }
                    cursor = Some(page.cursor);
                    synced.send_replace(true);
                    if empty {
                        MIN_EMPTY_POLL_GAP.saturating_sub(started.elapsed())
                    } else {
                        Duration::ZERO
                    }
                }
                Ok(Poll::BadCursor) => {
                    log::info!(
                        "wxlogin-verifier: the revocation cursor was refused; starting over"
                    );
                    cursor = None;
                    restarts += 1;
                    if restarts > 1 {
                        backoff(restarts - 1)
                    } else {
                        Duration::ZERO
                    }
                }
                Err(e) => {
                    failures += 1;
                    let pause = backoff(failures);
                    log::warn!(
                        "wxlogin-verifier: polling revocations failed ({} in a row), retrying in {:?}: {}",
                        failures,
                        pause,
                        ErrorChain(&e)
                    );
                    pause
                }
            };
            if !pause.is_zero() {
                self.forgetting(&mut forget_tick, tokio::time::sleep(pause))
                    .await;
            }
        }
    }

    /// Runs `work`, forgetting dead revocations on every tick meanwhile.
    async fn forgetting<T>(&self, tick: &mut Interval, work: impl Future<Output = T>) -> T {
        let mut work = std::pin::pin!(work);
        loop {
            tokio::select! {
                done = &mut work => return done,
                _ = tick.tick() => self.revocations.forget_expired(unix_now()),
            }
        }
    }

    async fn poll(&self, cursor: Option<&str>) -> Result<Poll, FetchError> {
        let mut url = self.url.clone();
        let mut timeout = self.timeout;
        if let Some(cursor) = cursor {
            url.query_pairs_mut()
                .append_pair("cursor", cursor)
                .append_pair("wait", &self.wait.as_secs().to_string());
            timeout += self.wait;
        }
        let answer = self.http.get(url, timeout, MAX_FEED_BYTES).await?;
        match answer.status {
            200 => serde_json::from_slice(&answer.body)
                .map(Poll::Page)
                .map_err(FetchError::Json),
            400 if cursor.is_some()
                && serde_json::from_slice::<ErrorBody>(&answer.body)
                    .is_ok_and(|body| body.error == "invalid_request") =>
            {
                Ok(Poll::BadCursor)
            }
            status => Err(FetchError::Status(status)),
        }
    }
}

/// The pause after `failures` failures in a row: doubling from [`FIRST_BACKOFF`] up to
/// [`MAX_BACKOFF`], each drawn between half and all of that so that the verifiers of a fleet
/// do not all come back in the same instant after an outage.
fn backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    let ceiling = FIRST_BACKOFF
        .saturating_mul(1_u32 << doublings)
        .min(MAX_BACKOFF);
    ceiling.mul_f64(0.5 + 0.5 * random_fraction())
}

/// A number in [0, 1), random enough for jitter, without a dependency: std's per-instance
/// random hash keys.
fn random_fraction() -> f64 {
    let bits = std::collections::hash_map::RandomState::new().hash_one(Instant::now());
    (bits >> 11) as f64 / (1_u64 << 53) as f64
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_with_jitter_and_is_capped() {
        for failures in 1..40 {
            let pause = backoff(failures);
            let ceiling = FIRST_BACKOFF
                .saturating_mul(1 << (failures - 1).min(16))
                .min(MAX_BACKOFF);
            assert!(
                pause >= ceiling / 2 && pause <= ceiling,
                "{failures}: {pause:?}"
            );
        }
        assert!(backoff(100) <= MAX_BACKOFF);
    }
}
