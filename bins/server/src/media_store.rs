//! Where avatar files are kept (`MEDIA_STORE`), and the round that deletes the files no
//! account shows any more.

use std::sync::Arc;

use anyhow::Context;
use wxlogin_core::LoginService;
use wxlogin_domain::MediaStore;
use wxlogin_media_s3::S3MediaStore;
use wxlogin_user_store::DieselStore;

use crate::config::{MediaConfig, MediaStoreConfig};

/// How often files that a failure left behind are looked for. Every change that leaves one
/// deletes it at once; this catches the rest (a store down at that moment, a crash).
const COLLECT_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// The media store `config` names: the database, or an S3-compatible bucket.
pub fn media_store(
    config: &MediaConfig,
    database: &Arc<DieselStore>,
) -> anyhow::Result<Arc<dyn MediaStore>> {
    Ok(match &config.store {
        MediaStoreConfig::Database => {
            log::info!("avatars are kept in the database");
            Arc::clone(database) as Arc<dyn MediaStore>
        }
        MediaStoreConfig::S3 { url, aws } => {
            let store = S3MediaStore::from_url_and_vars(url, aws.0.iter().cloned())
                .context("MEDIA_STORE and the AWS_* variables")?;
            log::info!("avatars are kept in {url}");
            Arc::new(store)
        }
    })
}

/// Deletes, every minute, the files no account shows that are still stored.
pub async fn collect_unused_media(service: Arc<LoginService>) {
    loop {
        actix_web::rt::time::sleep(COLLECT_EVERY).await;
        match service.collect_unused_media().await {
            Ok(0) => {}
            Ok(n) => log::info!("deleted {n} avatar files no account shows"),
            Err(e) => log::warn!(
                "collecting unused avatar files failed: {}",
                wxlogin_domain::error_chain(&e)
            ),
        }
    }
}
