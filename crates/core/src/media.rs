//! Uploaded avatars as the use cases hold them: the media store, the records of its files,
//! and the policy (where they are shown, how big, how many at once).

use std::sync::Arc;
use std::time::Duration;

use wxlogin_domain::{AvatarStore, MediaStore};
use wxlogin_media::AvatarLimits;

/// Policy of avatar uploads.
#[derive(Debug, Clone)]
pub struct MediaSettings {
    /// What a stored file's name is appended to, to show it: `https://cdn.example` shows
    /// `avatars/x.jpg` at `https://cdn.example/avatars/x.jpg` (`MEDIA_PUBLIC_BASE_URL`, or the
    /// server's own `PUBLIC_BASE_URL` + `/media`).
    pub public_base_url: String,
    /// Bytes, pixels and the size avatars are scaled to.
    pub limits: AvatarLimits,
    /// Uploads decoded at once: each holds a decoded image (up to tens of MB).
    pub concurrency: usize,
    /// How long an upload waits for its turn before it is refused with 503.
    pub wait: Duration,
    /// How long a file stored but not yet shown is kept: an upload in flight. After that, one
    /// that never finished (a crash) is collected.
    pub unattached_grace_secs: i64,
}

impl Default for MediaSettings {
    fn default() -> Self {
        Self {
            public_base_url: "/media".to_owned(),
            limits: AvatarLimits::default(),
            concurrency: 4,
            wait: Duration::from_secs(10),
            unattached_grace_secs: 600,
        }
    }
}

/// The media ports and policy a service holds when it takes uploads.
pub(crate) struct Media {
    pub(crate) files: Arc<dyn MediaStore>,
    pub(crate) records: Arc<dyn AvatarStore>,
    pub(crate) settings: MediaSettings,
    pub(crate) turns: Arc<tokio::sync::Semaphore>,
}

impl Media {
    pub(crate) fn new(
        files: Arc<dyn MediaStore>,
        records: Arc<dyn AvatarStore>,
        settings: MediaSettings,
    ) -> Self {
        let turns = Arc::new(tokio::sync::Semaphore::new(settings.concurrency.max(1)));
        Self {
            files,
            records,
            settings,
            turns,
        }
    }

    /// The URL a stored file is shown at.
    pub(crate) fn url_of(&self, name: &str) -> String {
        format!(
            "{}/{name}",
            self.settings.public_base_url.trim_end_matches('/')
        )
    }
}
