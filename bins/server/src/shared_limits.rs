//! The limits shared by every instance on PostgreSQL (`LOGIN_RATE_LIMIT`, `USER_RATE_LIMIT`,
//! WeChat's quota pauses): given to the service, and their spent counters purged.

use std::sync::Arc;

use wxlogin_core::{LoginService, LoginServiceBuilder};
use wxlogin_user_store::DieselStore;

/// How often counters back to a full allowance are deleted: a minute refills any of them.
const PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// `builder`, given the store's shared limits when it has them (PostgreSQL); on SQLite, one
/// process serves the database and its limits stay its own.
pub(crate) fn with_shared_limits(
    builder: LoginServiceBuilder,
    store: &DieselStore,
) -> LoginServiceBuilder {
    match store.shared_limits() {
        Some(limits) => {
            log::info!("rate limits and WeChat quota pauses are shared by every instance");
            builder.shared_limits(Arc::new(limits))
        }
        None => builder,
    }
}

/// Deletes, every minute, the counters whose allowance is full again and the pauses that are
/// over, so that the table holds about a minute of clients.
pub(crate) async fn purge_shared_limits(service: Arc<LoginService>) {
    if !service.limits().is_shared() {
        return;
    }
    loop {
        actix_web::rt::time::sleep(PURGE_EVERY).await;
        if let Err(e) = service.limits().purge().await {
            log::warn!(
                "purging the shared rate limits failed: {}",
                wxlogin_domain::error_chain(&e)
            );
        }
    }
}
