//! Where avatar files are kept (`MEDIA_STORE`), and the round that deletes the files no
//! account shows any more.

use std::sync::Arc;

use anyhow::Context;
use wxlogin_domain::MediaStore;
use wxlogin_media_s3::S3MediaStore;
use wxlogin_user_store::DieselStore;

use crate::config::{MediaConfig, MediaStoreConfig};

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
