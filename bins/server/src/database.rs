//! Opening the configured database: the sealer of its secrets at rest, and the store as the
//! command-line doors (`keys`, `admin`) open it.

use anyhow::Context;
use wxlogin_user_store::{DieselStore, SecretSealer};

use crate::config::Config;

/// The configured database, opened (and migrated) for a command-line door: `keys`, `admin`.
pub async fn open_store(config: &Config) -> anyhow::Result<DieselStore> {
    let (store, _) = DieselStore::open(
        &config.database_url,
        &wxlogin_user_store::PoolOptions::default(),
        sealer(config)?,
    )
    .await
    .context("DATABASE_URL")?;
    // Changes made from the command line raise their events like the server's.
    store.route_webhooks(crate::config::routes_of(&config.webhooks));
    Ok(store)
}

/// The sealer of secrets at rest the configuration describes.
pub fn sealer(config: &Config) -> anyhow::Result<SecretSealer> {
    let mut sealer = SecretSealer::new(&config.sealing_secret).context("SESSION_KEY_SECRET")?;
    if let Some(previous) = &config.previous_sealing_secret {
        sealer = sealer
            .with_previous(previous)
            .context("SESSION_KEY_SECRET_PREVIOUS")?;
    }
    Ok(sealer)
}
