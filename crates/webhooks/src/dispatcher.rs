//! The dispatcher: claims what the outbox holds due, sends each delivery to its endpoint, and
//! settles it: delivered (gone), retried on the backoff schedule, or given up after 24 hours
//! of failures (kept for an operator). Every instance may run one: the outbox's claims keep
//! two from sending one delivery in the normal case.

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

/// Sends the outbox's deliveries to the configured endpoints: one loop per endpoint, so a dead
/// or slow receiver holds back its own deliveries only.
pub struct Dispatcher {
    outbox: Arc<dyn WebhookOutbox>,
    endpoints: Vec<Endpoint>,
    sender: Sender,
    clock: Arc<dyn Clock>,
    /// How long given-up deliveries are kept for operators.
    failed_kept: Duration,
    stats: DispatchStats,
}

/// How often the sweep gives up what no instance can send and forgets old failures.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(3600);
/// The most given-up deliveries one sweep statement deletes.
const PURGE_BATCH: usize = 5000;

impl Dispatcher {
    /// A dispatcher of `outbox`'s deliveries to `endpoints`, through `sender`, keeping given-up
    /// deliveries for `failed_kept`.
    pub fn new(
        outbox: Arc<dyn WebhookOutbox>,
        endpoints: Vec<Endpoint>,
        sender: Sender,
        clock: Arc<dyn Clock>,
        failed_kept: Duration,
    ) -> Self {
        Self {
            outbox,
            endpoints,
            sender,
            clock,
            failed_kept,
            stats: DispatchStats::default(),
        }
    }

    /// What it did so far.
    pub fn stats(&self) -> &DispatchStats {
        &self.stats
    }

    /// The endpoints it sends to.
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    /// How many deliveries wait and how many were given up, all instances together.
    pub async fn counts(&self) -> Result<OutboxCounts, StoreError> {
        self.outbox.outbox_counts().await
    }

    /// One round for `endpoint`: claims what is due and sends it all at once (one account's
    /// deliveries come one per round, in order), then settles what was taken in one call.
    /// How many it claimed.
    pub async fn dispatch_once(&self, endpoint: &Endpoint) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let claimed = self
            .outbox
            .claim_deliveries(endpoint.key(), now, LEASE_SECS, MOST_PER_ROUND)
            .await?;
        let sent = join_all(
            claimed
                .iter()
                .map(|delivery| self.deliver(endpoint, delivery)),
        )
        .await;
        let mut taken = Vec::with_capacity(claimed.len());
        for (delivery, result) in claimed.iter().zip(sent) {
            match result {
                Ok(true) => taken.push(delivery.clone()),
                Ok(false) => {}
                // One settlement lost (the database went away) leaves its delivery claimed:
                // it is sent again once the lease ends. The others stand.
                Err(e) => log::warn!("a webhook delivery was sent but not settled: {e}"),
            }
        }
        if !taken.is_empty()
            && let Err(e) = self.outbox.delivered(&taken).await
        {
            // Their claims stand until the lease ends: they are sent again then.
            log::warn!(
                "{} webhook deliveries were sent but not settled: {e}",
                taken.len()
            );
        }
        Ok(claimed.len())
    }

    /// Sends `delivery`: whether the receiver took it (settled by the round, with the others);
    /// a failed attempt is settled here.
    async fn deliver(
        &self,
        endpoint: &Endpoint,
        delivery: &WebhookDelivery,
    ) -> Result<bool, StoreError> {
        let sent = self
            .sender
            .send(
                endpoint,
                &delivery.message_id,
                self.clock.now(),
                &delivery.payload,
            )
            .await;
        let now = self.clock.now();
        match sent {
            Ok(()) => {
                self.stats.delivered.fetch_add(1, Ordering::Relaxed);
                Ok(true)
            }
            Err(e) => {
                self.stats.attempts_failed.fetch_add(1, Ordering::Relaxed);
                let retry_at = retry_at(delivery, now);
                if retry_at.is_none() {
                    self.stats.given_up.fetch_add(1, Ordering::Relaxed);
                    log::error!(
                        "webhook {} ({}) to {} given up after {} attempts: {e}",
                        delivery.message_id,
                        delivery.event_type,
                        endpoint.label(),
                        delivery.attempts
                    );
                }
                self.outbox
                    .attempt_failed(delivery, &e.to_string(), retry_at, now)
                    .await
                    .map(|()| false)
            }
        }
    }

    /// Gives up what was recorded for endpoints this instance does not know more than 24
    /// hours ago (an endpoint removed from every file: nobody will send it; until then another
    /// instance, in a rolling deploy, may still), and deletes given-up deliveries older than
    /// the retention. How many of each.
    pub async fn sweep(&self) -> Result<(u64, u64), StoreError> {
        let now = self.clock.now();
        let day = i64::try_from(GIVE_UP_AFTER.as_secs()).unwrap_or(i64::MAX);
        let known: Vec<String> = self.endpoints.iter().map(|e| e.key().to_owned()).collect();
        let given_up = self.outbox.give_up_unrouted(&known, now - day, now).await?;
        self.stats.given_up.fetch_add(given_up, Ordering::Relaxed);
        let kept = i64::try_from(self.failed_kept.as_secs()).unwrap_or(i64::MAX);
        let mut purged = 0;
        loop {
            let batch = self.outbox.purge_failed(now - kept, PURGE_BATCH).await?;
            purged += batch;
            if batch < PURGE_BATCH as u64 {
                return Ok((given_up, purged));
            }
        }
    }

    /// The tasks to run, each for as long as it runs (abort them to stop): one loop per
    /// endpoint, and the hourly sweep.
    pub fn tasks(self: &Arc<Self>) -> Vec<std::pin::Pin<Box<dyn Future<Output = ()> + Send>>> {
        let mut tasks: Vec<std::pin::Pin<Box<dyn Future<Output = ()> + Send>>> =
            (0..self.endpoints.len())
                .map(|index| {
                    Box::pin(Arc::clone(self).run_endpoint(index))
                        as std::pin::Pin<Box<dyn Future<Output = ()> + Send>>
                })
                .collect();
        tasks.push(Box::pin(Arc::clone(self).run_sweep()));
        tasks
    }

    /// Dispatches to one endpoint: at once again after a full round, after [`POLL_INTERVAL`]
    /// otherwise, and after a failing outbox without spinning.
    async fn run_endpoint(self: Arc<Self>, index: usize) {
        let mut failing = false;
        loop {
            let wait = match self.dispatch_once(&self.endpoints[index]).await {
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

    async fn run_sweep(self: Arc<Self>) {
        loop {
            match self.sweep().await {
                Ok((0, 0)) => {}
                Ok((given_up, purged)) => log::info!(
                    "webhook outbox: {given_up} deliveries to endpoints no instance has given \
                     up, {purged} old failures forgotten"
                ),
                Err(e) => log::warn!("the webhook outbox could not be swept: {e}"),
            }
            tokio::time::sleep(SWEEP_INTERVAL).await;
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
            message_id: "msg_1".into(),
            endpoint: "ep_1".into(),
            user_id: Some("u1".into()),
            event_type: "user.deleted".into(),
            payload: "{}".into(),
            created_at: window_start,
            attempts,
            window_start,
            leased_until: 0,
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
