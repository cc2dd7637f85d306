//! The stores, split by job: users, sessions, the shared access token, and the feed of changes
//! other instances make. One adapter may implement them all (`wxlogin-user-store` does); a use case
//! asks only for the ones it needs.

use async_trait::async_trait;

use crate::{
    AccessToken, Audit, Cause, CodeLogin, Deletion, NewLogin, OpenId, OpenedLogin, ProfileUpdate,
    RefreshState, Revocations, Session, SessionKey, StoredAccessToken, User,
};

/// Why a store could not answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The store's address is not one it understands (the text names no secret).
    #[error("unsupported database URL {0}: use sqlite://<path> or postgres://...")]
    InvalidUrl(String),
    /// The store could not be reached, or no connection freed up in time.
    #[error("the database is unavailable")]
    Unavailable(#[source] Cause),
    /// The schema could not be brought up to date.
    #[error("database migration failed")]
    Migration(#[source] Cause),
    /// A query failed.
    #[error("database query failed")]
    Query(#[source] Cause),
    /// A stored secret could not be sealed or opened (a rotated-away key, an altered value).
    #[error("a stored secret could not be used")]
    Sealed(#[source] Cause),
    /// The account is banned: no session was opened for it. Not a failure of the store: the
    /// answer to the login.
    #[error("the account is disabled")]
    AccountDisabled,
    /// The store failed in itself (a worker thread lost).
    #[error("the store failed internally")]
    Internal(#[source] Cause),
}

/// User accounts.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait UserStore: Send + Sync {
    /// The openid of the user's identity in `appid`, if it has one.
    async fn openid(&self, user_id: &str, appid: &str) -> Result<Option<OpenId>, StoreError>;

    /// The account of identity (`appid`, `openid`), if there is one.
    async fn find_by_identity(
        &self,
        appid: &str,
        openid: &OpenId,
    ) -> Result<Option<User>, StoreError>;

    /// Deletes the account and everything attached to it (identities, sessions and their
    /// session_keys; deleted, not flagged), taking its turn with logins of the same person on
    /// every instance. The account is `user_id`, or, if a merge moved it meanwhile, the one
    /// holding its identity (`appid`, `openid`) when the deletion commits: a deletion never
    /// leaves the person's data behind in the account it was merged into. `None` if neither
    /// the account nor the identity is there any more.
    async fn delete_account(
        &self,
        user_id: &str,
        appid: &str,
        openid: &OpenId,
        audit: &Audit,
    ) -> Result<Option<Deletion>, StoreError>;

    /// Deletes identity (`appid`, `openid`) and its sessions in that app, and the account with
    /// it when it was the account's last identity; only if the identity existed at
    /// `existed_at` (unix seconds), so that an event about a person who has since come back
    /// does not delete them again. `None` if nothing was deleted.
    async fn delete_identity(
        &self,
        appid: &str,
        openid: &OpenId,
        existed_at: i64,
        audit: &Audit,
    ) -> Result<Option<Deletion>, StoreError>;

    /// The user with this public id.
    async fn find_user(&self, id: &str) -> Result<Option<User>, StoreError>;

    /// Applies `update` and returns the user as it now is; `None` if there is no such user, or
    /// if [`ProfileUpdate::unless_changed_since`] left every field alone (each changed at or
    /// after it).
    async fn update_profile(
        &self,
        id: &str,
        update: &ProfileUpdate,
        now: i64,
    ) -> Result<Option<User>, StoreError>;

    /// Checks that the store answers, the way every other call reaches it.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Login sessions, and the logins that open them.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// A whole login in one step, and a session opened for it in the login's app: the
    /// account of the identity (`appid`, `openid`), created if there is none. With a
    /// `unionid`, identities of one person are one account: a new identity joins the account
    /// holding the unionid, and an account that had none and turns out to share it with
    /// another is merged into the older one. Race-safe, across instances: concurrent logins of
    /// one person create one account. The session_key is sealed before it is stored.
    async fn open_login(&self, login: &NewLogin) -> Result<OpenedLogin, StoreError>;

    /// The session with this id, expired and revoked ones included.
    async fn find_session(&self, id: &str) -> Result<Option<Session>, StoreError>;

    /// The login that `login_code` ([`NewLogin::login_code`]) opened at or after `since`, if
    /// one did: how a copy of a code that reaches another instance gets its first answer.
    async fn find_login_by_code(
        &self,
        login_code: &str,
        since: i64,
    ) -> Result<Option<CodeLogin>, StoreError>;

    /// The session with this id and its user (`None` if the user is gone), read together:
    /// what authenticating a request needs, in one trip.
    async fn find_session_with_user(
        &self,
        id: &str,
    ) -> Result<Option<(Session, Option<User>)>, StoreError>;

    /// The session_key of a session; `None` if there is no such session, or it was ended
    /// (logout, logout everywhere, a stale key: its key is erased then). A session that ran out
    /// keeps its sealed key until it is purged; callers look for a live session first. A key that cannot be
    /// opened (sealed under a key the server no longer holds) is [`StoreError::Sealed`].
    async fn session_key(&self, session_id: &str) -> Result<Option<SessionKey>, StoreError>;

    /// The user's most recently opened session in `appid` that is neither revoked nor expired
    /// at `now`: it holds the session_key WeChat currently honours for the user in that app.
    async fn latest_live_session(
        &self,
        user_id: &str,
        appid: &str,
        now: i64,
    ) -> Result<Option<Session>, StoreError>;

    /// Ends a session at `audit.at`, erasing its session_key, and records `audit` with it;
    /// `false` (nothing recorded) if there was no such session or it had already ended.
    async fn revoke_session(&self, id: &str, audit: &Audit) -> Result<bool, StoreError>;

    /// Ends every live session of the user, in every app, at `audit.at`, and records `audit`
    /// with it; the ids of those it ended.
    async fn revoke_all_sessions(
        &self,
        user_id: &str,
        audit: &Audit,
    ) -> Result<Vec<String>, StoreError>;

    /// Makes a session expire at `now` at the latest; `false` if there was no such session.
    async fn expire_session(&self, id: &str, now: i64) -> Result<bool, StoreError>;

    /// Deletes sessions expired or revoked before `before`, and says how many.
    async fn purge_sessions(&self, before: i64) -> Result<usize, StoreError>;

    /// Deletes the records of login codes ([`NewLogin::login_code`]) made before `before`, and
    /// says how many: they are asked for only within the replay window, and each login adds one.
    async fn purge_login_codes(&self, before: i64) -> Result<usize, StoreError>;

    /// The session with this id and where its refresh tokens stand; `None` if there is no such
    /// session (purged, or deleted with its account).
    async fn find_refresh_state(&self, id: &str) -> Result<Option<RefreshState>, StoreError>;

    /// Spends refresh token number `counter` of a live session: the session's counter moves on
    /// to `counter + 1`, stamped `audit.at`, only if it was `counter` and the session is
    /// neither ended nor expired then, and `audit` is recorded with it; the session so moved
    /// on, or `None` if not (another refresh was first, the token is an old one, the session
    /// ended: a ban ends every session of its account; the caller reads the state).
    async fn rotate_refresh(
        &self,
        id: &str,
        counter: i64,
        audit: &Audit,
    ) -> Result<Option<Session>, StoreError>;

    /// The sessions that ended at or after `since_ms` (milliseconds of the store's clock), as
    /// every instance ended them: what the revocation feed answers.
    async fn ended_sessions_since(&self, since_ms: i64) -> Result<Revocations, StoreError>;

    /// Forgets the ends of sessions recorded before `before_ms`, and says how many: once their
    /// tokens have all expired, verifiers need not hear of them.
    async fn purge_ended_sessions_before(&self, before_ms: i64) -> Result<usize, StoreError>;
}

/// The WeChat access token of each app, shared by every instance on the store.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait AccessTokenStore: Send + Sync {
    /// The access token shared for `appid`, whether or not it is still usable; `None` if none
    /// was ever stored or it cannot be opened.
    async fn load_access_token(&self, appid: &str)
    -> Result<Option<StoredAccessToken>, StoreError>;

    /// Takes the right to fetch a new token for `appid` until `until`, unless another owner holds
    /// an unexpired lease or a token usable at `now` is stored (one may have been saved since the
    /// caller looked). Instances that do not get it wait for the holder's token instead of
    /// fetching their own.
    async fn lease_access_token_refresh(
        &self,
        appid: &str,
        owner: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError>;

    /// Stores a freshly fetched token (sealed), counts `fetches` more fetches, and releases
    /// `owner`'s lease. Returns the total count of fetches.
    async fn save_access_token(
        &self,
        appid: &str,
        owner: &str,
        token: &AccessToken,
        use_until: i64,
        fetches: i64,
    ) -> Result<i64, StoreError>;

    /// Releases `owner`'s lease without a new token (the fetch failed), counting `fetches`.
    async fn release_access_token_lease(
        &self,
        appid: &str,
        owner: &str,
        fetches: i64,
    ) -> Result<(), StoreError>;

    /// Marks `token` unusable if it is still the stored one (WeChat refused it); a newer token
    /// stored meanwhile by another instance is left alone. `true` if it was marked.
    async fn expire_access_token(
        &self,
        appid: &str,
        token: &AccessToken,
    ) -> Result<bool, StoreError>;
}

/// A change announced by some instance (this one included), for in-process caches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChange {
    /// The session with this id was ended (logout) or shortened (expired).
    SessionEnded(String),
    /// The user with this id changed (profile, phone number).
    UserChanged(String),
    /// Announcements may have been missed (the listener was connecting or reconnecting):
    /// anything cached may be stale.
    Missed,
    /// The feed's connection was just seen working, and every change announced before that
    /// moment has been handed over: while these keep coming, a cache may trust what it holds
    /// for longer, since what changes is told to it.
    Heard,
}

/// What a [`ChangeFeed`] calls with each change.
pub type ChangeHandler = Box<dyn Fn(StoreChange) + Send + Sync>;

/// A running subscription to a [`ChangeFeed`]; dropping it ends the subscription.
pub struct Subscription {
    _guard: Box<dyn Send + Sync>,
}

impl Subscription {
    /// A subscription that lasts as long as `guard` lives.
    pub fn new(guard: impl Send + Sync + 'static) -> Self {
        Self {
            _guard: Box::new(guard),
        }
    }
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Subscription")
    }
}

/// Changes other instances sharing the store make, told to this one as they happen, so an
/// in-process cache drops what changed instead of waiting for its entries to age out.
pub trait ChangeFeed: Send + Sync {
    /// Calls `handler` with every change any instance announces, with [`StoreChange::Missed`]
    /// whenever some may have been lost, and with [`StoreChange::Heard`] whenever nothing was.
    /// `None` when the store cannot tell (a cache then trusts its entries for its short window
    /// only).
    fn subscribe(&self, handler: ChangeHandler) -> Result<Option<Subscription>, StoreError>;
}
