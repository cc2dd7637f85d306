//! Users, sessions and the records of a login, as every layer sees them.

use crate::{AccessToken, OpenId, SessionKey, UnionId};

/// A user account: one person, known through one or more identities (an openid in one mini
/// program each), and by a unionid once an app bound to the Open Platform account tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The public id (a random UUID): what tokens and clients see.
    pub id: String,
    /// The WeChat unionid, once known. Never sent to clients.
    pub unionid: Option<UnionId>,
    /// Display name.
    pub nick_name: Option<String>,
    /// Avatar URL.
    pub avatar_url: Option<String>,
    /// WeChat's number: 0 unknown, 1 male, 2 female.
    pub gender: Option<i32>,
    /// As WeChat gives it, country code included outside mainland China.
    pub phone_number: Option<String>,
    /// The appids of the mini programs the account has an identity in, oldest first. Appids
    /// are public; the openids stay in the store.
    pub apps: Vec<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// Unix seconds since which the account is banned (its logins and refreshes refused), if
    /// it is. Shown to operators only.
    pub disabled_at: Option<i64>,
    /// Why, as the operator who banned it said.
    pub disabled_reason: Option<String>,
}

impl User {
    /// Whether the account is banned.
    pub fn is_disabled(&self) -> bool {
        self.disabled_at.is_some()
    }
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
    /// The unix seconds a WeChat event was made at: each of nickname, avatar and phone number
    /// is then changed only if it last changed before them (gender is left alone); `None`
    /// applies the update whatever. How an event WeChat pushes (clear the nickname, the phone
    /// number) is kept from undoing a change made after it: a push that comes late, or again,
    /// is older than the data.
    pub unless_changed_since: Option<i64>,
}

impl ProfileUpdate {
    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.nick_name.is_none()
            && self.avatar_url.is_none()
            && self.gender.is_none()
            && self.phone_number.is_none()
    }
}

/// A login to record: the WeChat user it is for, and the session it opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLogin {
    /// The mini program logged in through.
    pub appid: String,
    /// The user's openid in that mini program.
    pub openid: OpenId,
    /// The user's unionid, if WeChat sent one.
    pub unionid: Option<UnionId>,
    /// The session_key of this login.
    pub session_key: SessionKey,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; the session's tokens expire with it.
    pub expires_at: i64,
    /// A digest of the `wx.login` code (never the code: it is a one-time secret), recorded
    /// with the session so that a copy of the code reaching another instance gets this login's
    /// answer ([`SessionStore::find_login_by_code`](crate::SessionStore::find_login_by_code))
    /// until it is purged ([`SessionStore::purge_login_codes`](crate::SessionStore::purge_login_codes)).
    /// `None` records nothing.
    pub login_code: Option<String>,
    /// The address the login came from: kept with the session and in the audit log.
    pub client_addr: Option<String>,
}

/// The login a code opened, as another instance finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeLogin {
    /// The session that login opened, as it is now (possibly ended).
    pub session: Session,
    /// Whether that login found an existing account (its `userExist`).
    pub user_existed: bool,
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
    /// The account this login merged into `user`, if it revealed that two were one person.
    pub merged: Option<MergedAccount>,
}

/// What a deletion removed: the account, or one of its identities (and the account with it
/// when it was the last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deletion {
    /// The account the deletion was in.
    pub user_id: String,
    /// Whether the account itself is gone (else only an identity and its app's sessions).
    pub account_deleted: bool,
    /// The sessions it ended (deleted with their session_keys).
    pub ended_sessions: Vec<String>,
}

/// An account merged into an older one of the same person: it is gone, and so are its
/// sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergedAccount {
    /// The id of the account merged away (never answered again).
    pub user_id: String,
    /// The sessions it had, ended by the merge.
    pub ended_sessions: Vec<String>,
}

/// A login session: what a token points to, and what logout ends. Its session_key is read
/// apart ([`SessionStore::session_key`](crate::SessionStore::session_key)): most requests need
/// only to know the session is live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Random id, carried in tokens.
    pub id: String,
    /// The user it belongs to.
    pub user_id: String,
    /// The mini program it was opened through: its session_key and access token are that app's.
    pub appid: String,
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

/// A session and where its refresh tokens stand: how a refresh decides whether the token it
/// was given is the current one, the one just spent, or an older one (a theft signal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshState {
    /// The session.
    pub session: Session,
    /// The number of its current refresh token (0 until the first refresh).
    pub counter: i64,
    /// Unix seconds of the last refresh (when the current token was handed out), if any.
    pub refreshed_at: Option<i64>,
    /// Unix seconds of the refresh before that, if any.
    pub prior_refreshed_at: Option<i64>,
    /// Whether the session's account is banned (or gone).
    pub user_disabled: bool,
}

/// A session that ended (logout, logout everywhere, deletion, merge, a stale key), as the
/// revocation feed tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndedSession {
    /// The session's id (random: it tells nothing about the user).
    pub session_id: String,
    /// When it ended, in milliseconds of the store's clock.
    pub ended_at_ms: i64,
}

/// Sessions that ended since some moment, and the store's time of the answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Revocations {
    /// Oldest first.
    pub ended: Vec<EndedSession>,
    /// The store's clock when it answered, in milliseconds: what the next question starts from.
    pub now_ms: i64,
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
