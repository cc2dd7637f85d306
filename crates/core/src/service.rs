use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use wxlogin_domain::{
    AccessTokenStore, ChangeFeed, Clock, NewLogin, OpenedLogin, SessionStore, SessionToken,
    StoreError, Subscription, SystemClock, TokenCodec, User, UserStore, WeChatApi, WeChatError,
};
use wxlogin_wechat::PushSettings;

use crate::access_token::AccessTokenBroker;
use crate::cache::SessionCache;
use crate::exchange::{CodeDigest, CodeExchanges, Replay};
use crate::limits::{PerKeyLimit, Verdicts};
use crate::push::PUSH_TIMESTAMP_WINDOW_SECS;
use crate::seen_pushes::SeenPushes;
use crate::{CoreError, ProfileEdit};

/// The longest code sent on to WeChat. Real `wx.login` codes are 32 characters; anything far
/// longer is not one, and would only cost an upstream call.
pub const MAX_CODE_LEN: usize = 128;

/// How recently the change feed must have been heard for the cache to trust its entries for
/// [`LoginSettings::session_cache_with_feed`]. A logout elsewhere that the feed does not
/// deliver (its connection died) is honoured here within this grace, plus the feed's poll.
pub const FEED_GRACE: Duration = Duration::from_millis(750);

/// How often, and how far apart, a used code is looked for among other instances' logins.
const CODE_LOOKUPS: u32 = 4;
const CODE_LOOKUP_PAUSE: Duration = Duration::from_millis(150);

/// Policy of the use cases.
#[derive(Debug, Clone)]
pub struct LoginSettings {
    /// Lifetime of a login session, in seconds; a token expires with its session.
    pub session_ttl_secs: i64,
    /// How long before WeChat's expiry the shared access token is replaced, in seconds, capped
    /// at a quarter of the token's lifetime. WeChat hands out the next token 5 minutes early.
    pub access_token_margin_secs: i64,
    /// How long a `wx.login` code's first answer is replayed to repeated submissions from the
    /// same client address, in seconds, and only while its session is live; after that, or from
    /// another address, a copy goes to WeChat like any code (which says it was used). Zero
    /// turns replays off.
    pub code_replay_secs: i64,
    /// How long a live session and its user, once read, are trusted without asking the
    /// store again; zero turns the cache off. This instance's own logouts and edits apply
    /// at once; another instance's arrive through the change feed, or within this window.
    pub session_cache: Duration,
    /// How long they are trusted while the store's change feed is heard (PostgreSQL's
    /// `NOTIFY` listener, or on SQLite the one process's own changes, says every fraction of a
    /// second that it missed nothing), since any
    /// change elsewhere is then told at once; zero keeps `session_cache` the only window. When
    /// the feed falls silent for [`FEED_GRACE`], `session_cache` is the bound again.
    pub session_cache_with_feed: Duration,
    /// How many live sessions (and their users) the cache holds at most. Past it, sessions
    /// not cached are read from the store on each request: raise it when more sessions than
    /// this are in use within `session_cache_with_feed` on one instance (about 1 KiB each).
    pub session_cache_capacity: usize,
    /// How many user-data calls (`apply_user_info`, `bind_phone_number`, each costing WeChat
    /// calls on the app's quota) one account may make per minute, on this instance; 0 turns the
    /// limit off.
    pub user_rate_limit: u32,
    /// How long WeChat's `checksession` verdict on a session's key is trusted: refused user
    /// data asks it once per session and window, not once per request.
    pub checksession_memory: Duration,
}

impl LoginSettings {
    /// The session lifetime when none is configured: seven days, like the contract's example.
    pub const DEFAULT_SESSION_TTL_SECS: i64 = 7 * 24 * 3600;
    /// The session cache window when none is configured: one second.
    pub const DEFAULT_SESSION_CACHE: Duration = Duration::from_secs(1);
    /// The window while the change feed is heard, when none is configured: one minute.
    pub const DEFAULT_SESSION_CACHE_WITH_FEED: Duration = Duration::from_secs(60);
    /// How many sessions the cache holds when none is configured (`SESSION_CACHE_CAPACITY`).
    pub const DEFAULT_SESSION_CACHE_CAPACITY: usize = crate::cache::DEFAULT_CAPACITY;
    /// How long a code's first answer is replayed when none is configured (`CODE_REPLAY_SECS`):
    /// long enough for a double tap or a retried request, short enough that a copied code is
    /// no credential.
    pub const DEFAULT_CODE_REPLAY_SECS: i64 = 10;
    /// User-data calls per account per minute when none is configured (`USER_RATE_LIMIT`).
    pub const DEFAULT_USER_RATE_LIMIT: u32 = 10;
}

impl Default for LoginSettings {
    /// Seven-day sessions; tokens replaced 5 minutes early; a code's first answer replayed for
    /// 10 seconds; sessions cached for one second (a minute while the change feed is heard).
    fn default() -> Self {
        Self {
            session_ttl_secs: Self::DEFAULT_SESSION_TTL_SECS,
            access_token_margin_secs: 300,
            code_replay_secs: Self::DEFAULT_CODE_REPLAY_SECS,
            session_cache: Self::DEFAULT_SESSION_CACHE,
            session_cache_with_feed: Self::DEFAULT_SESSION_CACHE_WITH_FEED,
            session_cache_capacity: Self::DEFAULT_SESSION_CACHE_CAPACITY,
            user_rate_limit: Self::DEFAULT_USER_RATE_LIMIT,
            checksession_memory: Duration::from_secs(300),
        }
    }
}

/// A successful login.
#[derive(Debug, Clone)]
pub struct LoginOutcome {
    /// The login token to send back.
    pub token: String,
    /// Unix seconds at which the session and its token expire.
    pub expires_at: i64,
    /// Seconds from now until then.
    pub expires_in: i64,
    /// Whether the user had an account before this login.
    pub user_existed: bool,
    /// The login session opened.
    pub session_id: String,
    /// The user, as stored.
    pub user: User,
}

/// Who is calling, once their token and session have been checked.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user.
    pub user: User,
    /// The session the token belongs to.
    pub session_id: String,
    /// The mini program that session was opened through.
    pub appid: String,
}

/// One mini program the service serves: its WeChat API, and its access token (they are per
/// app).
pub(crate) struct App {
    pub(crate) wechat: Arc<dyn WeChatApi>,
    pub(crate) access_token: AccessTokenBroker,
    /// Its message-push settings, if WeChat's pushes are received for it.
    pub(crate) push: Option<PushSettings>,
}

/// The use cases of wxlogin over its ports: log in, authenticate, log out, edit the profile,
/// apply WeChat user data and phone numbers.
///
/// `Send + Sync`: build one per process ([`LoginService::builder`]) and share the `Arc` with
/// every thread and task. It holds what a process shares: the access-token cache, the codes
/// being exchanged, the session cache and its subscription to the change feed.
pub struct LoginService {
    /// By appid.
    pub(crate) apps: BTreeMap<String, App>,
    pub(crate) users: Arc<dyn UserStore>,
    pub(crate) sessions: Arc<dyn SessionStore>,
    pub(crate) access_tokens: Arc<dyn AccessTokenStore>,
    pub(crate) tokens: Arc<dyn TokenCodec>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) settings: LoginSettings,
    pub(crate) exchanges: CodeExchanges,
    pub(crate) cache: Arc<SessionCache>,
    pub(crate) user_calls: PerKeyLimit,
    pub(crate) verdicts: Verdicts,
    /// The pushes accepted within their timestamp window, not to be applied twice.
    pub(crate) seen_pushes: SeenPushes,
    /// Keeps the change feed talking to the cache for as long as the service lives.
    _changes: Option<Subscription>,
}

impl std::fmt::Debug for LoginService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginService")
            .field("apps", &self.apps.keys().collect::<Vec<_>>())
            .field("settings", &self.settings)
            .field("listening_for_changes", &self._changes.is_some())
            .finish_non_exhaustive()
    }
}

/// Why a [`LoginService`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A port the service needs was not given.
    #[error("no {0} was given to the login service builder")]
    Missing(&'static str),
    /// Two WeChat APIs speak for one appid.
    #[error("two WeChat APIs were given for the mini program {0}")]
    DuplicateApp(String),
    /// Push settings for an appid no WeChat API speaks for.
    #[error("push settings were given for {0}, which is not served")]
    PushForUnknownApp(String),
    /// The change feed could not be subscribed to.
    #[error("subscribing to the store's change feed failed")]
    ChangeFeed(#[source] StoreError),
}

/// Wires a [`LoginService`]: the same for the server and for embedders.
///
/// Give the WeChat client and the token codec, then either one store that implements every
/// store port ([`LoginServiceBuilder::store`], what `wxlogin_store::DieselUserStore` does) or
/// each port on its own. With a change feed and a session cache, the service subscribes to the
/// feed, so another instance's logout reaches this one's cache as soon as it is announced.
#[derive(Default)]
pub struct LoginServiceBuilder {
    wechat: Vec<Arc<dyn WeChatApi>>,
    push: Vec<(String, PushSettings)>,
    tokens: Option<Arc<dyn TokenCodec>>,
    users: Option<Arc<dyn UserStore>>,
    sessions: Option<Arc<dyn SessionStore>>,
    access_tokens: Option<Arc<dyn AccessTokenStore>>,
    changes: Option<Arc<dyn ChangeFeed>>,
    clock: Option<Arc<dyn Clock>>,
    settings: LoginSettings,
}

impl LoginServiceBuilder {
    /// The WeChat API of a mini program to serve: once per app (each speaks for its own
    /// appid, [`WeChatApi::appid`]). Identities of one person in several apps are one account.
    pub fn wechat(mut self, wechat: Arc<dyn WeChatApi>) -> Self {
        self.wechat.push(wechat);
        self
    }

    /// The message-push settings of app `appid`: WeChat's authorization events are received for
    /// it ([`LoginService::receive_push`]).
    pub fn push_settings(mut self, appid: impl Into<String>, settings: PushSettings) -> Self {
        self.push.push((appid.into(), settings));
        self
    }

    /// The login token codec.
    pub fn tokens(mut self, tokens: Arc<dyn TokenCodec>) -> Self {
        self.tokens = Some(tokens);
        self
    }

    /// One store for users, sessions, the access token and the change feed.
    pub fn store<S>(self, store: Arc<S>) -> Self
    where
        S: UserStore + SessionStore + AccessTokenStore + ChangeFeed + 'static,
    {
        self.users(store.clone())
            .sessions(store.clone())
            .access_tokens(store.clone())
            .change_feed(store)
    }

    /// The user store.
    pub fn users(mut self, users: Arc<dyn UserStore>) -> Self {
        self.users = Some(users);
        self
    }

    /// The session store.
    pub fn sessions(mut self, sessions: Arc<dyn SessionStore>) -> Self {
        self.sessions = Some(sessions);
        self
    }

    /// The store of the shared access token.
    pub fn access_tokens(mut self, access_tokens: Arc<dyn AccessTokenStore>) -> Self {
        self.access_tokens = Some(access_tokens);
        self
    }

    /// Where other instances' changes are heard (optional: without it, the session cache
    /// window bounds how late another instance's logout is honoured here).
    pub fn change_feed(mut self, changes: Arc<dyn ChangeFeed>) -> Self {
        self.changes = Some(changes);
        self
    }

    /// The clock (the system's by default).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The policy (defaults: [`LoginSettings::default`]).
    pub fn settings(mut self, settings: LoginSettings) -> Self {
        self.settings = settings;
        self
    }

    /// The service, subscribed to the change feed if there is one and the cache is on.
    pub fn build(self) -> Result<Arc<LoginService>, BuildError> {
        let users = self.users.ok_or(BuildError::Missing("user store"))?;
        let sessions = self.sessions.ok_or(BuildError::Missing("session store"))?;
        let access_tokens = self
            .access_tokens
            .ok_or(BuildError::Missing("access token store"))?;
        let tokens = self.tokens.ok_or(BuildError::Missing("token codec"))?;
        if self.wechat.is_empty() {
            return Err(BuildError::Missing("WeChat API"));
        }
        let mut apps = BTreeMap::new();
        for wechat in self.wechat {
            let appid = wechat.appid().to_owned();
            let app = App {
                wechat,
                access_token: AccessTokenBroker::new(),
                push: None,
            };
            if apps.insert(appid.clone(), app).is_some() {
                return Err(BuildError::DuplicateApp(appid));
            }
        }
        for (appid, settings) in self.push {
            match apps.get_mut(&appid) {
                Some(app) => app.push = Some(settings),
                None => return Err(BuildError::PushForUnknownApp(appid)),
            }
        }
        // Last: a subscription is a running listener, not to be started for a service that
        // is not built after all.
        let settings = self.settings;
        let cache = Arc::new(
            SessionCache::with_feed(
                settings.session_cache,
                settings.session_cache_with_feed,
                FEED_GRACE,
            )
            .with_capacity(settings.session_cache_capacity),
        );
        let changes = match self.changes {
            Some(feed) if !settings.session_cache.is_zero() => {
                let to = Arc::clone(&cache);
                feed.subscribe(Box::new(move |change| to.apply_change(&change)))
                    .map_err(BuildError::ChangeFeed)?
            }
            _ => None,
        };
        Ok(Arc::new(LoginService {
            apps,
            users,
            sessions,
            access_tokens,
            tokens,
            clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
            exchanges: CodeExchanges::new(settings.code_replay_secs),
            cache,
            user_calls: PerKeyLimit::new(settings.user_rate_limit, Duration::from_secs(60)),
            verdicts: Verdicts::new(settings.checksession_memory),
            seen_pushes: SeenPushes::new(PUSH_TIMESTAMP_WINDOW_SECS),
            settings,
            _changes: changes,
        }))
    }
}

impl LoginService {
    /// A builder: give it the ports, then [`LoginServiceBuilder::build`].
    pub fn builder() -> LoginServiceBuilder {
        LoginServiceBuilder::default()
    }

    /// The appids of the mini programs served.
    pub fn appids(&self) -> impl Iterator<Item = &str> {
        self.apps.keys().map(String::as_str)
    }

    /// The app a login is for: `appid` when given, else the only one; [`CoreError::UnknownApp`]
    /// for an appid not served, or none when several are.
    fn app(&self, appid: Option<&str>) -> Result<&App, CoreError> {
        match appid {
            Some(appid) => self
                .apps
                .get(appid)
                .ok_or_else(|| CoreError::UnknownApp(Some(appid.to_owned()))),
            None if self.apps.len() == 1 => {
                self.apps.values().next().ok_or(CoreError::UnknownApp(None))
            }
            None => Err(CoreError::UnknownApp(None)),
        }
    }

    /// The app the caller's session was opened through.
    pub(crate) fn app_of(&self, caller: &Caller) -> Result<&App, CoreError> {
        self.apps.get(&caller.appid).ok_or_else(|| {
            // A session of an app this instance no longer serves (its configuration changed).
            CoreError::UnknownApp(Some(caller.appid.clone()))
        })
    }

    /// Logs in with a `wx.login` code of mini program `appid` (`None`: the only one served):
    /// exchanges it, finds, creates, links or merges the account, opens a session holding the
    /// session_key and issues a token that expires with it.
    ///
    /// The same code submitted again while it lives (a double tap, parallel requests) gets the
    /// first answer instead of WeChat's "code been used"; concurrent submissions wait for the
    /// first, so WeChat is asked once. All submissions through this method count as one
    /// client's: a server that knows its clients' addresses calls [`Self::login_from`].
    pub async fn login(&self, appid: Option<&str>, code: &str) -> Result<LoginOutcome, CoreError> {
        self.login_from(appid, code, None).await
    }

    /// [`Self::login`] for a request from `client`: a code's first answer is replayed only to
    /// the address that sent the code first (a copy of a code seen on the way, in a log or a
    /// proxy, is no way in from elsewhere), on this instance and on others.
    pub async fn login_from(
        &self,
        appid: Option<&str>,
        code: &str,
        client: Option<IpAddr>,
    ) -> Result<LoginOutcome, CoreError> {
        let app = self.app(appid)?;
        if !is_plausible_code(code) {
            return Err(CoreError::MalformedCode);
        }
        let now = self.clock.now();
        let digest = CodeDigest::of(app.wechat.appid(), code, client);
        let slot = self.exchanges.slot(&digest, now);
        let mut first = slot.lock().await;
        if let Some(replay) = first.as_ref()
            && self.settings.code_replay_secs > 0
            && replay.client.map(|ip| ip.to_canonical()) == client.map(|ip| ip.to_canonical())
            && now.saturating_sub(replay.answered_at) <= self.settings.code_replay_secs
            && let Some(outcome) = self.replay(replay).await?
        {
            log::debug!("a login code was submitted again; replaying its first answer");
            return Ok(outcome);
        }
        let outcome = match self.exchange(app, code, &digest).await {
            Err(CoreError::WeChat(WeChatError::CodeUsed)) => self
                .replay_from_elsewhere(&digest)
                .await?
                .ok_or(CoreError::WeChat(WeChatError::CodeUsed))?,
            other => other?,
        };
        *first = Some(Replay::of(&outcome, client, self.clock.now()));
        Ok(outcome)
    }

    /// A copy of a code whose first exchange another instance made: WeChat says the code was
    /// used, and that instance's login is found by the code's digest, if it opened a session
    /// within `code_replay_secs` (it may still be on its way to the database: it is looked for
    /// a few times over half a second). Its first answer then, as [`Self::replay`] gives it.
    async fn replay_from_elsewhere(
        &self,
        digest: &CodeDigest,
    ) -> Result<Option<LoginOutcome>, CoreError> {
        if self.settings.code_replay_secs <= 0 {
            return Ok(None);
        }
        // Stored bound to the first sender's address: another address finds nothing.
        let digest = digest.with_client_hex();
        for lookup in 0..CODE_LOOKUPS {
            if lookup > 0 {
                tokio::time::sleep(CODE_LOOKUP_PAUSE).await;
            }
            let since = self.clock.now() - self.settings.code_replay_secs;
            if let Some(found) = self.sessions.find_login_by_code(&digest, since).await? {
                log::debug!("a login code another instance exchanged was submitted again");
                return self
                    .replay(&Replay {
                        user_id: found.session.user_id,
                        session_id: found.session.id,
                        expires_at: found.session.expires_at,
                        user_existed: found.user_existed,
                        answered_at: found.session.created_at,
                        client: None,
                    })
                    .await;
            }
        }
        Ok(None)
    }

    /// The first answer to a code, again: the same session and expiry, a token for it issued
    /// anew (tokens are not kept in memory), and the user as stored now.
    ///
    /// `None` when the session is no longer live (logged out, expired, deleted): a code is
    /// never a way back into a session that ended.
    async fn replay(&self, replay: &Replay) -> Result<Option<LoginOutcome>, CoreError> {
        let now = self.clock.now();
        let live = self
            .sessions
            .find_session(&replay.session_id)
            .await?
            .is_some_and(|s| s.revoked_at.is_none() && !s.is_expired_at(now));
        if !live {
            return Ok(None);
        }
        let Some(user) = self.users.find_user(&replay.user_id).await? else {
            return Ok(None);
        };
        let token = self.tokens.issue(&SessionToken {
            user_id: replay.user_id.clone(),
            session_id: replay.session_id.clone(),
            expires_at: replay.expires_at,
        })?;
        Ok(Some(LoginOutcome {
            token,
            expires_at: replay.expires_at,
            expires_in: (replay.expires_at - now).max(0),
            user_existed: replay.user_existed,
            session_id: replay.session_id.clone(),
            user,
        }))
    }

    async fn exchange(
        &self,
        app: &App,
        code: &str,
        digest: &CodeDigest,
    ) -> Result<LoginOutcome, CoreError> {
        let wechat = app.wechat.code2session(code).await?;
        let now = self.clock.now();
        let expires_at = now.saturating_add(self.settings.session_ttl_secs);
        // Taken before the session exists: should anything be forgotten while it is being
        // opened (a logout everywhere, a deletion), the new session is not cached.
        let ticket = self.cache.ticket();
        let OpenedLogin {
            user,
            created,
            session,
            merged,
        } = self
            .sessions
            .open_login(&NewLogin {
                appid: app.wechat.appid().to_owned(),
                openid: wechat.openid,
                unionid: wechat.unionid,
                session_key: wechat.session_key,
                created_at: now,
                expires_at,
                login_code: Some(digest.with_client_hex()),
            })
            .await?;
        if let Some(merged) = merged {
            self.forget_all(&merged.user_id, &merged.ended_sessions);
            self.cache.update_user(&user);
        }
        // The requests that follow a login use its session at once: cached now, they need no
        // read (a burst of fresh logins would otherwise be a burst of misses).
        self.cache.put(&session, &user, ticket);
        let token = self.tokens.issue(&SessionToken {
            user_id: user.id.clone(),
            session_id: session.id.clone(),
            expires_at,
        })?;
        Ok(LoginOutcome {
            token,
            expires_at,
            expires_in: expires_at - now,
            user_existed: !created,
            session_id: session.id,
            user,
        })
    }

    /// Checks a token and its session, and says who is calling.
    ///
    /// The session and user are read from the store, or from the session cache when they
    /// were read there within [`LoginSettings::session_cache`].
    pub async fn authenticate(&self, token: &str) -> Result<Caller, CoreError> {
        let claims = self.tokens.verify(token)?;
        let now = self.clock.now();
        if let Some(hit) = self.cache.get(&claims.session_id) {
            if hit.user_id != claims.user_id {
                return Err(CoreError::token_invalid(
                    "the session belongs to another user",
                ));
            }
            if now > hit.expires_at {
                return Err(CoreError::TokenExpired);
            }
            return Ok(Caller {
                user: hit.user,
                session_id: claims.session_id,
                appid: hit.appid,
            });
        }
        // A session that is gone was purged after it ended.
        let ticket = self.cache.ticket();
        let (session, user) = self
            .sessions
            .find_session_with_user(&claims.session_id)
            .await?
            .ok_or(CoreError::SessionRevoked)?;
        if session.user_id != claims.user_id {
            return Err(CoreError::token_invalid(
                "the session belongs to another user",
            ));
        }
        if session.revoked_at.is_some() {
            return Err(CoreError::SessionRevoked);
        }
        if session.is_expired_at(now) {
            return Err(CoreError::TokenExpired);
        }
        let user = user.ok_or_else(|| CoreError::token_invalid("the user no longer exists"))?;
        self.cache.put(&session, &user, ticket);
        Ok(Caller {
            user,
            session_id: session.id,
            appid: session.appid,
        })
    }

    /// Ends the caller's session now: its token stops working on every instance sharing the
    /// store.
    ///
    /// It holds from the moment it returns: the session is forgotten here once the store has
    /// ended it (before, a read could still find it live and serve it), and a read begun
    /// before cannot put it back (see `SessionCache::put`).
    pub async fn logout(&self, caller: &Caller) -> Result<(), CoreError> {
        self.cache.forget_session(&caller.session_id);
        self.sessions
            .revoke_session(&caller.session_id, self.clock.now())
            .await?;
        self.cache.forget_session(&caller.session_id);
        Ok(())
    }

    /// Ends every session of the caller's account, in every app, on every instance.
    pub async fn logout_everywhere(&self, caller: &Caller) -> Result<(), CoreError> {
        let ended = self
            .sessions
            .revoke_all_sessions(&caller.user.id, self.clock.now())
            .await?;
        self.forget_all(&caller.user.id, &ended);
        Ok(())
    }

    /// Deletes the caller's account, once `code`, a fresh `wx.login` code of the app of the
    /// caller's session, proves the person is there: it must resolve to the caller's own
    /// identity in that app. A stolen token alone cannot delete an account.
    ///
    /// The code is checked as a login's is ([`CoreError::MalformedCode`] without asking
    /// WeChat), and each attempt counts against the account's user-data calls (each costs a
    /// WeChat call). The account deleted is the one the caller's identity belongs to when the
    /// deletion commits: one merged into another meanwhile is deleted there, with the rest of
    /// the person.
    pub async fn delete_account(&self, caller: &Caller, code: &str) -> Result<(), CoreError> {
        let app = self.app_of(caller)?;
        if !is_plausible_code(code) {
            return Err(CoreError::MalformedCode);
        }
        self.spend_user_call(caller)?;
        let proof = match app.wechat.code2session(code).await {
            Ok(session) => session,
            Err(e @ (WeChatError::InvalidCode | WeChatError::CodeUsed)) => {
                return Err(CoreError::ReauthFailed(wxlogin_domain::Cause::new(e)));
            }
            Err(e) => return Err(e.into()),
        };
        let own = self.users.openid(&caller.user.id, &caller.appid).await?;
        if own.as_ref() != Some(&proof.openid) {
            return Err(CoreError::ReauthFailed(wxlogin_domain::Cause::msg(
                "the code is another WeChat user's",
            )));
        }
        if let Some(deleted) = self
            .users
            .delete_account(&caller.user.id, &caller.appid, &proof.openid)
            .await?
        {
            self.forget_all(&deleted.user_id, &deleted.ended_sessions);
            if deleted.user_id != caller.user.id {
                // The caller's own id went with the merge; its sessions are ended too.
                self.cache.forget_user(&caller.user.id);
            }
            log::info!("account {} deleted at its owner's request", deleted.user_id);
        }
        Ok(())
    }

    /// Forgets a user and sessions of theirs that ended here, at once (other instances hear
    /// of it from the change feed).
    pub(crate) fn forget_all(&self, user_id: &str, sessions: &[String]) {
        self.cache.forget_user(user_id);
        for session in sessions {
            self.cache.forget_session(session);
        }
    }

    /// Applies a profile edit to the caller's own profile and returns the user as it now is.
    pub async fn update_profile(
        &self,
        caller: &Caller,
        edit: ProfileEdit,
    ) -> Result<User, CoreError> {
        self.store_update(caller, edit.validate()?).await
    }

    /// Deletes the sessions that ended (expired, logged out) more than `after` seconds ago, and
    /// says how many: run it on a schedule, so the store does not keep every login forever.
    /// Any instance may run it; running it twice is harmless.
    pub async fn purge_ended_sessions(&self, after: i64) -> Result<usize, CoreError> {
        let before = self.clock.now().saturating_sub(after.max(0));
        Ok(self.sessions.purge_sessions(before).await?)
    }

    /// How often authenticated requests found their session in the cache (for metrics).
    pub fn session_cache_stats(&self) -> crate::CacheStats {
        self.cache.stats()
    }

    /// Whether the store answers, asked the way every other call asks it (for readiness).
    pub async fn ping(&self) -> Result<(), CoreError> {
        Ok(self.users.ping().await?)
    }
}

/// Whether `code` could be a `wx.login` code: non-empty, not absurdly long, printable ASCII
/// without spaces. Anything else is refused without asking WeChat.
pub(crate) fn is_plausible_code(code: &str) -> bool {
    !code.is_empty() && code.len() <= MAX_CODE_LEN && code.bytes().all(|b| b.is_ascii_graphic())
}
