#![doc = include_str!("../README.md")]

mod changes;
mod connection;
mod diesel_store;
mod schema;
mod sealing;
#[cfg(feature = "test-support")]
pub mod testing;

pub use changes::{ChangeListener, StoreChange};
pub use connection::{DatabaseUrl, PoolOptions};
pub use diesel_store::DieselUserStore;
pub use sealing::{MIN_SECRET_LEN, SealError, SessionKeySealer};
use wxlogin_wechat::{AccessToken, OpenId, SessionKey, UnionId};

/// A user account, one per WeChat openid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The public id (a random UUID): what tokens and clients see.
    pub id: String,
    /// The WeChat openid. Never sent to clients.
    pub openid: OpenId,
    /// The WeChat unionid, when the mini program has one. Never sent to clients.
    pub unionid: Option<UnionId>,
    /// Display name.
    pub nick_name: Option<String>,
    /// Avatar URL.
    pub avatar_url: Option<String>,
    /// WeChat's number: 0 unknown, 1 male, 2 female.
    pub gender: Option<i32>,
    /// As WeChat gives it, country code included outside mainland China.
    pub phone_number: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

/// A change to a user's profile: `None` leaves a field alone, `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileUpdate {
    /// New display name.
    pub nick_name: Option<Option<String>>,
    /// New avatar URL.
    pub avatar_url: Option<Option<String>>,
    /// New gender.
    pub gender: Option<Option<i32>>,
    /// New phone number.
    pub phone_number: Option<Option<String>>,
}

impl ProfileUpdate {
    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// A login session to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    /// The user it belongs to.
    pub user_id: String,
    /// The WeChat session_key of this login.
    pub session_key: SessionKey,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; the session's tokens expire with it.
    pub expires_at: i64,
}

/// A login to record: the WeChat user it is for, and the session it opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLogin {
    /// The user's openid.
    pub openid: OpenId,
    /// The user's unionid, if WeChat sent one.
    pub unionid: Option<UnionId>,
    /// The session_key of this login.
    pub session_key: SessionKey,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; the session's tokens expire with it.
    pub expires_at: i64,
}

/// A recorded login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedLogin {
    /// The user, found or created.
    pub user: User,
    /// Whether this login created the user.
    pub created: bool,
    /// The session opened.
    pub session: Session,
}

/// A login session: what a token points to, and what logout ends. Its session_key is read
/// apart ([`UserStore::session_key`]): most requests need only to know the session is live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Random id, carried in tokens.
    pub id: String,
    /// The user it belongs to.
    pub user_id: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
    /// Unix seconds at which it was ended (logout), if it was.
    pub revoked_at: Option<i64>,
}

impl Session {
    /// Whether the session's lifetime is over at `now` (it lives through its `expires_at` second).
    pub fn is_expired_at(&self, now: i64) -> bool {
        now > self.expires_at
    }
}

/// Why the store could not answer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL is not one the store understands.
    #[error("unsupported database URL {0}: use sqlite://<path> or postgres://...")]
    InvalidUrl(String),
    /// The database could not be reached (or no pooled connection freed up in time).
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// The schema could not be brought up to date.
    #[error("database migration failed: {0}")]
    Migration(String),
    /// A query failed.
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    /// A stored secret could not be sealed or opened (a rotated-away key, an altered value).
    #[error("a stored secret could not be used: {0}")]
    Sealed(#[from] SealError),
}

/// The WeChat access token the instances of one app share, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAccessToken {
    /// The token.
    pub token: AccessToken,
    /// Unix seconds until which it may be used (already short of WeChat's expiry).
    pub use_until: i64,
    /// How many times any instance fetched a token for this app.
    pub fetches: i64,
}

/// Users and sessions, as the login use case needs them.
///
/// Methods block: diesel is synchronous. Async callers run them on a blocking thread.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait UserStore: Send + Sync {
    /// The user with this openid, created if there is none; `true` when this call created it.
    /// Race-safe: concurrent calls for one openid create one user. A `unionid` is recorded if
    /// the user had none.
    // The named lifetime is for mockall, which cannot mock `Option<&UnionId>` elided.
    #[allow(clippy::needless_lifetimes)]
    fn find_or_create_user<'a>(
        &self,
        openid: &OpenId,
        unionid: Option<&'a UnionId>,
        now: i64,
    ) -> Result<(User, bool), StoreError>;

    /// A whole login in one step: [`UserStore::find_or_create_user`] and
    /// [`UserStore::create_session`] on one connection (in one transaction where a commit is
    /// what costs: SQLite). Race-safe like `find_or_create_user`.
    fn open_login(&self, login: &NewLogin) -> Result<OpenedLogin, StoreError>;

    /// The user with this public id.
    fn find_user(&self, id: &str) -> Result<Option<User>, StoreError>;

    /// Applies `update` and returns the user as it now is; `None` if there is no such user.
    fn update_profile(
        &self,
        id: &str,
        update: &ProfileUpdate,
        now: i64,
    ) -> Result<Option<User>, StoreError>;

    /// Opens a session; its session_key is sealed before it is stored.
    fn create_session(&self, session: &NewSession) -> Result<Session, StoreError>;

    /// The session_key of a session; `None` if there is no such session. A key that cannot be
    /// opened (sealed under a key the server no longer holds) is [`StoreError::Sealed`].
    fn session_key(&self, session_id: &str) -> Result<Option<SessionKey>, StoreError>;

    /// The session with this id, expired and revoked ones included.
    fn find_session(&self, id: &str) -> Result<Option<Session>, StoreError>;

    /// The user's most recently opened session that is neither revoked nor expired at `now`:
    /// it holds the session_key WeChat currently honours for the user.
    fn latest_live_session(&self, user_id: &str, now: i64) -> Result<Option<Session>, StoreError>;

    /// Ends a session now; `false` if there was no such session or it had already ended.
    fn revoke_session(&self, id: &str, now: i64) -> Result<bool, StoreError>;

    /// Makes a session expire at `now` at the latest; `false` if there was no such session.
    fn expire_session(&self, id: &str, now: i64) -> Result<bool, StoreError>;

    /// Deletes sessions expired or revoked before `before`, and says how many.
    fn purge_sessions(&self, before: i64) -> Result<usize, StoreError>;

    /// Checks that the database answers.
    fn ping(&self) -> Result<(), StoreError>;

    /// The access token shared for `appid`, whether or not it is still usable; `None` if none
    /// was ever stored or it cannot be opened.
    fn load_access_token(&self, appid: &str) -> Result<Option<StoredAccessToken>, StoreError>;

    /// Takes the right to fetch a new token for `appid` until `until`, unless another owner holds
    /// an unexpired lease or a token usable at `now` is stored (one may have been saved since the
    /// caller looked). Instances that do not get it wait for the holder's token instead of
    /// fetching their own.
    fn lease_access_token_refresh(
        &self,
        appid: &str,
        owner: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError>;

    /// Stores a freshly fetched token (sealed), counts `fetches` more fetches, and releases
    /// `owner`'s lease. Returns the total count of fetches.
    fn save_access_token(
        &self,
        appid: &str,
        owner: &str,
        token: &AccessToken,
        use_until: i64,
        fetches: i64,
    ) -> Result<i64, StoreError>;

    /// Releases `owner`'s lease without a new token (the fetch failed), counting `fetches`.
    fn release_access_token_lease(
        &self,
        appid: &str,
        owner: &str,
        fetches: i64,
    ) -> Result<(), StoreError>;

    /// Marks `token` unusable if it is still the stored one (WeChat refused it); a newer token
    /// stored meanwhile by another instance is left alone. `true` if it was marked.
    fn expire_access_token(&self, appid: &str, token: &AccessToken) -> Result<bool, StoreError>;
}
