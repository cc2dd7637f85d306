//! The records of uploaded avatars: which stored file each account shows, which files no
//! account shows any more (for deletion from the media store), and the content checks WeChat
//! runs on them.

use async_trait::async_trait;

use crate::{StoreError, User};

/// The records of stored files and the accounts that show them.
///
/// A file is registered before it is stored, attached to an account as its avatar, and
/// detached when the avatar changes, is taken down, or the account is deleted or merged away.
/// A file no account shows is *unused*: [`unused_media`](Self::unused_media) lists it for
/// deletion from the media store, and [`forget_media`](Self::forget_media) drops its record
/// once it is gone. Because every change of avatar or account goes through the store, no path
/// (a replacement, a deletion, a push, a merge, a crash half-way through an upload) leaves a
/// file behind for ever.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait AvatarStore: Send + Sync {
    /// Records `name` as a file of `user_id` about to be stored. Until it is attached it is
    /// unused only once registered before the `unattached_before` given to
    /// [`unused_media`](Self::unused_media), so an upload in flight keeps its file.
    async fn register_media(&self, name: &str, user_id: &str, now: i64) -> Result<(), StoreError>;

    /// Makes the registered file `name` the account's avatar, shown at `url`; the file it
    /// showed before becomes unused. `None` when there is no such account, or `name` is not a
    /// registered file of it, or WeChat rejected it (then nothing changes).
    async fn attach_avatar(
        &self,
        user_id: &str,
        name: &str,
        url: &str,
        now: i64,
    ) -> Result<Option<User>, StoreError>;

    /// Notes that WeChat is checking file `name` under `trace_id`. `true` when WeChat's risky
    /// verdict on it arrived first (it answers fast): the file is rejected already, never to
    /// be attached.
    async fn note_media_check(
        &self,
        name: &str,
        trace_id: &str,
        now: i64,
    ) -> Result<bool, StoreError>;

    /// WeChat found the file it checked under `trace_id` risky: the file is rejected (never
    /// attached again), the account showing it shows no avatar any more (`avatar_url` becomes
    /// null) and the file becomes unused. Answers the account changed; `None` when no account
    /// shows that file (taken down already, replaced, deleted, not attached yet) or the trace
    /// is not noted yet: then the verdict is kept for a day, for the noting to apply. A
    /// replayed verdict does nothing more.
    async fn take_down_checked_avatar(
        &self,
        trace_id: &str,
        now: i64,
    ) -> Result<Option<String>, StoreError>;

    /// Up to `limit` unused files: detached ones, rejected ones, and ones registered before
    /// `unattached_before` and never attached. Reads only.
    async fn unused_media(
        &self,
        unattached_before: i64,
        limit: usize,
    ) -> Result<Vec<String>, StoreError>;

    /// Drops the records of files deleted from the media store (those still unused; a name
    /// in use is kept).
    async fn forget_media(&self, names: &[String]) -> Result<usize, StoreError>;
}
