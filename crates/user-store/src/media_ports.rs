//! The media ports on the database: the records of stored files ([`AvatarStore`]) and the
//! database as media store ([`MediaStore`]).

use async_trait::async_trait;
use wxlogin_domain::{
    AvatarStore, Cause, MediaError, MediaObject, MediaStore, StoreError, User, is_media_name,
};

use crate::DieselStore;

#[async_trait]
impl AvatarStore for DieselStore {
    async fn register_media(&self, name: &str, user_id: &str, now: i64) -> Result<(), StoreError> {
        let (name, user_id) = (name.to_owned(), user_id.to_owned());
        self.run(move |db| db.register_media(&name, &user_id, now))
            .await
    }

    async fn attach_avatar(
        &self,
        user_id: &str,
        name: &str,
        url: &str,
        now: i64,
    ) -> Result<Option<User>, StoreError> {
        let (user_id, name, url) = (user_id.to_owned(), name.to_owned(), url.to_owned());
        self.run(move |db| db.attach_avatar(&user_id, &name, &url, now))
            .await
    }

    async fn note_media_check(
        &self,
        name: &str,
        trace_id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let (name, trace_id) = (name.to_owned(), trace_id.to_owned());
        self.run(move |db| db.note_media_check(&name, &trace_id, now))
            .await
    }

    async fn take_down_checked_avatar(
        &self,
        trace_id: &str,
        now: i64,
    ) -> Result<Option<String>, StoreError> {
        let trace_id = trace_id.to_owned();
        self.run(move |db| db.take_down_checked_avatar(&trace_id, now))
            .await
    }

    async fn unused_media(
        &self,
        unattached_before: i64,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        self.run(move |db| db.unused_media(unattached_before, limit))
            .await
    }

    async fn forget_media(&self, names: &[String]) -> Result<usize, StoreError> {
        let names = names.to_vec();
        self.run(move |db| db.forget_media(&names)).await
    }
}

fn media_error(e: StoreError) -> MediaError {
    match e {
        StoreError::Unavailable(cause) => MediaError::Unavailable(cause),
        other => MediaError::Failed(Cause::new(other)),
    }
}

#[async_trait]
impl MediaStore for DieselStore {
    async fn put(&self, object: &MediaObject) -> Result<(), MediaError> {
        if !is_media_name(&object.name) {
            return Err(MediaError::InvalidName);
        }
        let object = object.clone();
        let now = now_unix();
        self.run(move |db| db.put_media(&object, now))
            .await
            .map_err(media_error)
    }

    async fn get(&self, name: &str) -> Result<Option<MediaObject>, MediaError> {
        if !is_media_name(name) {
            return Err(MediaError::InvalidName);
        }
        let name = name.to_owned();
        self.run(move |db| db.get_media(&name))
            .await
            .map_err(media_error)
    }

    async fn delete(&self, name: &str) -> Result<(), MediaError> {
        if !is_media_name(name) {
            return Err(MediaError::InvalidName);
        }
        let name = name.to_owned();
        self.run(move |db| db.delete_media(&name))
            .await
            .map_err(media_error)
    }
}

/// When a file was stored, for operators reading the table; nothing depends on it.
fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
