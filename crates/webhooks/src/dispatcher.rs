//! The dispatcher: claims what the outbox holds due, sends each delivery to its endpoint, and
//! settles it: delivered (gone), retried on the backoff schedule, or given up after 24 hours
//! of failures (kept for an operator). Every instance may run one: the outbox's claims keep
//! two from sending one delivery in the normal case.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::future::join_all;
use wxlogin_domain::{Clock, OutboxCounts, StoreError, WebhookDelivery, WebhookOutbox};

use crate::{Endpoint, GIVE_UP_AFTER, Sender, retry_delay};

/// How long a claim holds its deliveries: well past the sender's timeout, so a delivery in
/// flight is not claimed again by another instance, and short enough that one an instance
/// died with is retried within a minute.
pub const LEASE_SECS: i64 = 60;
/// The most deliveries one round claims (and sends at once).
pub const MOST_PER_ROUND: usize = 64;
/// How long an idle dispatcher waits before looking again: the delay a change's event waits
/// at most, beyond its delivery.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// What the dispatcher did, since the process started.
#[derive(Debug, Default)]
pub struct DispatchStats {
    delivered: AtomicU64,
    attempts_failed: AtomicU64,
    given_up: AtomicU64,
}

impl DispatchStats {
    /// Deliveries a receiver took (2xx).
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// Attempts that failed (an answer other than 2xx, a timeout, no connection).
    pub fn attempts_failed(&self) -> u64 {
        self.attempts_failed.load(Ordering::Relaxed)
    }

    /// Deliveries given up: 24 hours of failures, or an endpoint no longer configured.
    pub fn given_up(&self) -> u64 {
        self.given_up.load(Ordering::Relaxed)
    }
}

/// Sends the outbox's deliveries to the configured endpoints.
pub struct Dispatcher {
    outbox: Arc<dyn WebhookOutbox>,
    endpoints: HashMap<String, Endpoint>,
    sender: Sender,
    clock: Arc<dyn Clock>,
    stats: DispatchStats,
}

impl Dispatcher {
    /// A dispatcher of `outbox`'s deliveries to `endpoints`, through `sender`.
    pub fn new(
        outbox: Arc<dyn WebhookOutbox>,
        endpoints: Vec<Endpoint>,
        sender: Sender,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            outbox,
            endpoints: endpoints
                .into_iter()
                .map(|endpoint| (endpoint.key().to_owned(), endpoint))
                .collect(),
            sender,
            clock,
            stats: DispatchStats::default(),
        }
    }

    /// What it did so far.
    pub fn stats(&self) -> &DispatchStats {
        &self.stats
    }

    /// How many deliveries wait and how many were given up, all instances together.
    pub async fn counts(&self) -> Result<OutboxCounts, StoreError> {
        self.outbox.outbox_counts().await
    }

    /// One round: claims what is due and sends it all at once (one account's deliveries come
    /// one per round, in order). How many it claimed.
    pub async fn dispatch_once(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let claimed = self
            .outbox
            .claim_deliveries(now, LEASE_SECS, MOST_PER_ROUND)
            .await?;
        let settled = join_all(claimed.iter().map(|delivery| self.deliver(delivery))).await;
        for result in settled {
            // One settlement lost (the database went away) leaves its delivery claimed: it is
            // sent again once the lease ends. The others stand.
            if let Err(e) = result {
                log::warn!("a webhook delivery was sent but not settled: {e}");
            }
        }
        Ok(claimed.len())
    }

    async fn deliver(&self, delivery: &WebhookDelivery) -> Result<(), StoreError> {
        let Some(endpoint) = self.endpoints.get(&delivery.endpoint) else {
            self.stats.given_up.fetch_add(1, Ordering::Relaxed);
            let now = self.clock.now();
            return self
                .outbox
                .attempt_failed(
                    delivery.id,
                    "the endpoint is no longer configured",
                    None,
                    now,
                )
                .await;
        };
        let sent = self
            .sender
            .send(
                endpoint,
                &delivery.message_id(),
                self.clock.now(),
                &delivery.payload,
            )
            .await;
        let now = self.clock.now();
        match sent {
            Ok(()) => {
                self.stats.delivered.fetch_add(1, Ordering::Relaxed);
                self.outbox.delivered(delivery.id).await
            }
            Err(e) => {
                self.stats.attempts_failed.fetch_add(1, Ordering::Relaxed);
                let retry_at = retry_at(delivery, now);
                if retry_at.is_none() {
                    self.stats.given_up.fetch_add(1, Ordering::Relaxed);
                    log::error!(
                        "webhook {} ({}) to {} given up after {} attempts: {e}",
                        delivery.message_id(),
                        delivery.event_type,
                        endpoint.shown_url(),
                        delivery.attempts
                    );
                }
                self.outbox
                    .attempt_failed(delivery.id, &e.to_string(), retry_at, now)
                    .await
            }
        }
    }

    /// Dispatches for as long as the task runs (abort it to stop): at once again after a full
    /// round, after [`POLL_INTERVAL`] otherwise, and after a failing outbox without spinning.
    pub async fn run(self: Arc<Self>) {
        let mut failing = false;
        loop {
            let wait = match self.dispatch_once().await {
                Ok(claimed) => {
                    if failing {
                        log::info!("the webhook outbox answers again");
                        failing = false;
                    }
                    if claimed == MOST_PER_ROUND {
                        Duration::ZERO
                    } else {
                        POLL_INTERVAL
                    }
                }
                Err(e) => {
                    if !failing {
                        log::error!("the webhook outbox cannot be read; retrying: {e}");
                        failing = true;
                    }
                    Duration::from_secs(1)
                }
            };
            tokio::time::sleep(wait).await;
        }
    }
}

/// When a failed delivery is tried again, or `None` once its 24 hours are over.
fn retry_at(delivery: &WebhookDelivery, now: i64) -> Option<i64> {
    let delay = i64::try_from(retry_delay(delivery.attempts).as_secs()).unwrap_or(i64::MAX);
    let at = now.saturating_add(delay);
    let window = i64::try_from(GIVE_UP_AFTER.as_secs()).unwrap_or(i64::MAX);
    (at - delivery.window_start <= window).then_some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(attempts: u32, window_start: i64) -> WebhookDelivery {
        WebhookDelivery {
            id: 1,
            endpoint: "https://a.example/".into(),
            user_id: Some("u1".into()),
            event_type: "user.deleted".into(),
            payload: "{}".into(),
            created_at: window_start,
            attempts,
            window_start,
            last_error: None,
            failed_at: None,
        }
    }

    #[test]
    fn a_failure_is_retried_on_the_schedule_within_its_24_hours_then_given_up() {
        assert_eq!(retry_at(&delivery(1, 0), 10), Some(11));
        assert_eq!(retry_at(&delivery(2, 0), 10), Some(15));
        let day = 24 * 3600;
        assert_eq!(retry_at(&delivery(12, 0), day - 6 * 3600), Some(day));
        assert_eq!(retry_at(&delivery(12, 0), day - 6 * 3600 + 1), None);
        assert_eq!(
            retry_at(&delivery(1, day), day),
            Some(day + 1),
            "after an operator's retry"
        );
    }
}
