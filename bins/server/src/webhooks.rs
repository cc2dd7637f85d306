//! The webhook dispatcher of this instance (every instance runs one; the outbox's claims keep
//! them from sending one delivery twice), and what `/metrics` tells of it.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use anyhow::Context;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use wxlogin_domain::{SystemClock, WebhookOutbox};
use wxlogin_webhooks::{Dispatcher, Sender};

use crate::config::Config;

use crate::metrics::{Metrics, counter, gauge};

/// How long a receiver has to answer: a slow one holds its delivery, never a login.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the outbox's counts (all instances together) are read for `/metrics`.
const COUNTS_EVERY: Duration = Duration::from_secs(5);

/// The dispatcher and the outbox's counts as last read.
pub struct Webhooks {
    dispatcher: Arc<Dispatcher>,
    pending: AtomicI64,
    failed: AtomicI64,
}

impl std::fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhooks").finish_non_exhaustive()
    }
}

/// The dispatcher for `config`'s endpoints, running, its counts reported in `metrics`: the
/// tasks (abort them to stop). None when no endpoint is configured (the outbox may still hold
/// deliveries of endpoints since removed: they wait for an instance configured with them).
pub fn start(
    config: &Config,
    outbox: Arc<dyn WebhookOutbox>,
    metrics: &Metrics,
) -> anyhow::Result<Vec<actix_web::rt::task::JoinHandle<()>>> {
    let endpoints = &config.webhooks;
    if endpoints.is_empty() {
        return Ok(Vec::new());
    }
    // Given-up deliveries are an operator's record, kept like the audit log.
    let failed_kept =
        Duration::from_secs(u64::try_from(config.admin.audit_retention_days).unwrap_or(0) * 86_400);
    let sender = Sender::new(SEND_TIMEOUT).context("the webhooks' HTTP client")?;
    let dispatcher = Arc::new(Dispatcher::new(
        outbox,
        endpoints.to_vec(),
        sender,
        Arc::new(SystemClock),
        failed_kept,
    ));
    let webhooks = Arc::new(Webhooks {
        dispatcher: Arc::clone(&dispatcher),
        pending: AtomicI64::new(0),
        failed: AtomicI64::new(0),
    });
    for endpoint in endpoints {
        log::info!(
            "webhooks to {}: {}",
            endpoint.label(),
            endpoint.events().join(", ")
        );
    }
    let mut tasks: Vec<_> = dispatcher
        .tasks()
        .into_iter()
        .map(actix_web::rt::spawn)
        .collect();
    tasks.push(actix_web::rt::spawn(read_counts(Arc::clone(&webhooks))));
    metrics.observe_webhooks(webhooks);
    Ok(tasks)
}

async fn read_counts(webhooks: Arc<Webhooks>) {
    loop {
        match webhooks.dispatcher.counts().await {
            Ok(counts) => {
                let as_gauge = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
                webhooks
                    .pending
                    .store(as_gauge(counts.pending), Ordering::Relaxed);
                webhooks
                    .failed
                    .store(as_gauge(counts.failed), Ordering::Relaxed);
            }
            Err(e) => log::warn!("the webhook outbox's counts cannot be read: {e}"),
        }
        actix_web::rt::time::sleep(COUNTS_EVERY).await;
    }
}

impl Collector for Webhooks {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let stats = self.dispatcher.stats();
        counter(
            &mut encoder,
            "webhooks_delivered",
            "Webhook deliveries a receiver took (2xx), by this instance",
            stats.delivered(),
        )?;
        counter(
            &mut encoder,
            "webhooks_attempts_failed",
            "Webhook attempts that failed (not 2xx, timeout, no connection), by this instance",
            stats.attempts_failed(),
        )?;
        counter(
            &mut encoder,
            "webhooks_given_up",
            "Webhook deliveries given up by this instance (24 hours of failures, or an \
             endpoint no longer configured)",
            stats.given_up(),
        )?;
        gauge(
            &mut encoder,
            "webhooks_pending",
            "Webhook deliveries waiting, all instances",
            self.pending.load(Ordering::Relaxed),
        )?;
        gauge(
            &mut encoder,
            "webhooks_failed",
            "Webhook deliveries given up and kept for an operator (GET /admin/webhooks/failed)",
            self.failed.load(Ordering::Relaxed),
        )
    }
}
