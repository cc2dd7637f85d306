//! The webhook outbox's port on the database, and how a store learns which endpoints want
//! which events.

use async_trait::async_trait;
use wxlogin_domain::{OutboxCounts, StoreError, WebhookDelivery, WebhookOutbox, WebhookRoutes};

use crate::DieselStore;

impl DieselStore {
    /// From now on, every change this store makes records the events it raises for the
    /// endpoints of `routes` that want them, in its own transaction. Set once, before the
    /// store serves (a second call changes nothing and answers `false`): every process that
    /// changes accounts (the server, the command line) must set the same routes, or its
    /// changes raise no events.
    pub fn route_webhooks(&self, routes: WebhookRoutes) -> bool {
        self.db.webhooks.set(routes).is_ok()
    }
}

#[async_trait]
impl WebhookOutbox for DieselStore {
    async fn claim_deliveries(
        &self,
        endpoint: &str,
        now: i64,
        lease_secs: i64,
        most: usize,
    ) -> Result<Vec<WebhookDelivery>, StoreError> {
        let endpoint = endpoint.to_owned();
        self.run(move |db| db.claim_deliveries(&endpoint, now, lease_secs, most))
            .await
    }

    async fn delivered(&self, deliveries: &[WebhookDelivery]) -> Result<(), StoreError> {
        if deliveries.is_empty() {
            return Ok(());
        }
        let deliveries = deliveries.to_vec();
        self.run(move |db| db.delivered(&deliveries)).await
    }

    async fn attempt_failed(
        &self,
        delivery: &WebhookDelivery,
        error: &str,
        retry_at: Option<i64>,
        now: i64,
    ) -> Result<(), StoreError> {
        let (delivery, error) = (delivery.clone(), error.to_owned());
        self.run(move |db| db.attempt_failed(&delivery, &error, retry_at, now))
            .await
    }

    async fn give_up_unrouted(
        &self,
        known: &[String],
        recorded_before: i64,
        now: i64,
    ) -> Result<u64, StoreError> {
        let known = known.to_vec();
        self.run(move |db| db.give_up_unrouted(&known, recorded_before, now))
            .await
    }

    async fn failed_deliveries(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<WebhookDelivery>, StoreError> {
        self.run(move |db| db.failed_deliveries(after, limit)).await
    }

    async fn retry_failed(&self, id: Option<i64>, now: i64) -> Result<u64, StoreError> {
        self.run(move |db| db.retry_failed(id, now)).await
    }

    async fn purge_failed(&self, failed_before: i64, most: usize) -> Result<u64, StoreError> {
        self.run(move |db| db.purge_failed(failed_before, most))
            .await
    }

    async fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
        self.run(|db| db.outbox_counts()).await
    }
}
