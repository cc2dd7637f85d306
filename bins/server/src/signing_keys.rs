//! The token signing keys as the server keeps them: the key ring its configuration describes,
//! read (and the first key made) at start, read again every 30 s for keys made elsewhere and
//! rotations that fall due.

use std::sync::Arc;

use wxlogin_domain::{Clock, SystemClock};
use wxlogin_token::{KeyPolicy, KeyRing};
use wxlogin_user_store::DieselStore;

use crate::config::{Config, TokenAlgorithm};
use crate::metrics::Metrics;

/// The key ring the configuration describes.
pub fn key_ring(config: &Config) -> KeyRing {
    let (algorithm, make_keys) = match config.tokens.algorithm {
        TokenAlgorithm::Asymmetric(algorithm) => (algorithm, true),
        TokenAlgorithm::Hs256 => (wxlogin_token::SigningAlgorithm::EdDsa, false),
    };
    KeyRing::new(KeyPolicy {
        algorithm,
        rotation_secs: config.tokens.key_rotation_days.saturating_mul(24 * 3600),
        token_lifetime_secs: config
            .tokens
            .access_token_ttl_secs
            .min(config.session_ttl_secs),
        make_keys,
    })
}

/// Reads the shared keys, making one when the policy says so.
pub(crate) async fn sync_keys(
    keys: &KeyRing,
    store: &DieselStore,
    metrics: &Metrics,
) -> anyhow::Result<()> {
    let report = keys.sync(store, SystemClock.now()).await?;
    if let Some(kid) = report.made {
        metrics.key_made();
        log::info!("made token signing key {kid}");
    }
    Ok(())
}

/// Reads the shared keys again every [`wxlogin_token::KEY_SYNC_SECS`]: a key another instance
/// made is known here long before it signs, and a rotation that falls due is made.
pub(crate) async fn keep_keys(keys: Arc<KeyRing>, store: Arc<DieselStore>, metrics: Arc<Metrics>) {
    let every = std::time::Duration::from_secs(wxlogin_token::KEY_SYNC_SECS.unsigned_abs());
    loop {
        actix_web::rt::time::sleep(every).await;
        if let Err(e) = sync_keys(&keys, &store, &metrics).await {
            log::warn!("reading the token signing keys failed: {e:#}");
        }
    }
}
