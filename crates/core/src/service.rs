use std::sync::Arc;
use std::time::Duration;

use wxlogin_store::{NewLogin, OpenedLogin, StoreChange, StoreError, User, UserStore};
use wxlogin_token::{Clock, SessionToken, TokenCodec};
use wxlogin_wechat::WeChatApi;

use crate::access_token::AccessTokenBroker;
use crate::cache::SessionCache;
use crate::exchange::{CodeExchanges, Replay};
use crate::{CoreError, ProfileEdit};

/// The longest code sent on to WeChat. Real `wx.login` codes are 32 characters; anything far
/// longer is not one, and would only cost an upstream call.
pub const MAX_CODE_LEN: usize = 128;

/// Policy of the use case.
#[derive(Debug, Clone)]
pub struct LoginSettings {
    /// Lifetime of a login session, in seconds; a token expires with its session.
    pub session_ttl_secs: i64,
    /// How long before WeChat's expiry the shared access token is replaced, in seconds, capped
    /// at a quarter of the token's lifetime. WeChat hands out the next token 5 minutes early.
    pub access_token_margin_secs: i64,
    /// How long a `wx.login` code's first answer is replayed to repeated submissions, in
    /// seconds (WeChat's codes live 5 minutes).
    pub code_replay_secs: i64,
    /// Most store calls running at once (the database pool's size): more would only queue
    /// for a connection on blocking threads, each a thread switch.
    pub store_concurrency: usize,
    /// How long a live session and its user, once read, are trusted without asking the
    /// database again; zero turns the cache off. This instance's own logouts and edits apply
    /// at once; another instance's reach this one within this window.
    pub session_cache: Duration,
}

impl Default for LoginSettings {
    /// Seven-day sessions, like the contract's example; tokens replaced 5 minutes early; codes
    /// replayed through their 5-minute life; sessions cached for one second.
    fn default() -> Self {
        Self {
            session_ttl_secs: 7 * 24 * 3600,
            access_token_margin_secs: 300,
            code_replay_secs: 300,
            session_cache: Duration::from_secs(1),
            store_concurrency: 8,
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
}

/// What every copy of the service shares, across threads: the store, the token codec, the
/// access-token cache and the in-flight code exchanges. Build it once per process.
pub struct LoginShared<S, T> {
    pub(crate) store: Arc<S>,
    pub(crate) tokens: Arc<T>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) settings: LoginSettings,
    pub(crate) access_token: AccessTokenBroker,
    pub(crate) exchanges: CodeExchanges,
    pub(crate) sessions: SessionCache,
    pub(crate) store_permits: tokio::sync::Semaphore,
}

impl<S, T> LoginShared<S, T> {
    /// The shared parts over this store, codec and clock.
    pub fn new(
        store: Arc<S>,
        tokens: Arc<T>,
        clock: Arc<dyn Clock>,
        settings: LoginSettings,
    ) -> Self {
        Self {
            store,
            tokens,
            clock,
            exchanges: CodeExchanges::new(settings.code_replay_secs),
            sessions: SessionCache::new(settings.session_cache),
            store_permits: tokio::sync::Semaphore::new(settings.store_concurrency.max(1)),
            settings,
            access_token: AccessTokenBroker::new(),
        }
    }

    /// Applies a change another instance announced (see
    /// `DieselUserStore::listen_for_changes`) to the session cache.
    pub fn apply_change(&self, change: &StoreChange) {
        match change {
            StoreChange::SessionEnded(id) => self.sessions.forget_session(id),
            StoreChange::UserChanged(id) => self.sessions.forget_user(id),
            StoreChange::Missed => self.sessions.clear(),
        }
    }
}

/// The login use case. Generic over its boundaries so each can be mocked or replaced.
///
/// The WeChat client may be bound to one thread (awc's is); everything else is shared. A server
/// with several worker threads builds one [`LoginShared`] and one service per worker with
/// [`LoginService::sharing`].
pub struct LoginService<W, S, T> {
    pub(crate) wechat: W,
    pub(crate) shared: Arc<LoginShared<S, T>>,
}

impl<W, S, T> LoginService<W, S, T>
where
    W: WeChatApi,
    S: UserStore + 'static,
    T: TokenCodec,
{
    /// A service over these parts, sharing them with no other.
    pub fn new(
        wechat: W,
        store: Arc<S>,
        tokens: Arc<T>,
        clock: Arc<dyn Clock>,
        settings: LoginSettings,
    ) -> Self {
        Self::sharing(
            wechat,
            Arc::new(LoginShared::new(store, tokens, clock, settings)),
        )
    }

    /// A service with its own WeChat client over parts shared with other services.
    pub fn sharing(wechat: W, shared: Arc<LoginShared<S, T>>) -> Self {
        Self { wechat, shared }
    }

    /// The store, for callers that need more than the use case offers (health checks).
    pub fn store(&self) -> &Arc<S> {
        &self.shared.store
    }

    /// Logs in with a `wx.login` code: exchanges it, finds or creates the user, opens a session
    /// holding the session_key and issues a token that expires with it.
    ///
    /// The same code submitted again while it lives (a double tap, parallel requests) gets the
    /// first answer instead of WeChat's "code been used"; concurrent submissions wait for the
    /// first, so WeChat is asked once.
    pub async fn login(&self, code: &str) -> Result<LoginOutcome, CoreError> {
        if !is_plausible_code(code) {
            return Err(CoreError::MalformedCode);
        }
        let now = self.shared.clock.now();
        let slot = self.shared.exchanges.slot(code, now);
        let mut first = slot.lock().await;
        if let Some(replay) = first.as_ref() {
            log::debug!("a login code was submitted again; replaying its first answer");
            return self.replay(replay).await;
        }
        let outcome = self.exchange(code).await?;
        *first = Some(Replay::of(&outcome));
        Ok(outcome)
    }

    /// The first answer to a code, again: the same session and expiry, a token for it issued
    /// anew (tokens are not kept in memory), and the user as stored now.
    async fn replay(&self, replay: &Replay) -> Result<LoginOutcome, CoreError> {
        let now = self.shared.clock.now();
        let user_id = replay.user_id.clone();
        let user = self
            .blocking(move |store| store.find_user(&user_id))
            .await?
            .ok_or_else(|| CoreError::TokenInvalid("the user no longer exists".into()))?;
        let token = self.shared.tokens.issue(&SessionToken {
            user_id: replay.user_id.clone(),
            session_id: replay.session_id.clone(),
            expires_at: replay.expires_at,
        })?;
        Ok(LoginOutcome {
            token,
            expires_at: replay.expires_at,
            expires_in: (replay.expires_at - now).max(0),
            user_existed: replay.user_existed,
            session_id: replay.session_id.clone(),
            user,
        })
    }

    async fn exchange(&self, code: &str) -> Result<LoginOutcome, CoreError> {
        let wechat = self.wechat.code2session(code).await?;
        let now = self.shared.clock.now();
        let expires_at = now.saturating_add(self.shared.settings.session_ttl_secs);
        let OpenedLogin {
            user,
            created,
            session,
        } = self
            .blocking(move |store| {
                store.open_login(&NewLogin {
                    openid: wechat.openid,
                    unionid: wechat.unionid,
                    session_key: wechat.session_key,
                    created_at: now,
                    expires_at,
                })
            })
            .await?;
        let token = self.shared.tokens.issue(&SessionToken {
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
    /// The session and user are read from the database, or from the session cache when they
    /// were read there within [`LoginSettings::session_cache`].
    pub async fn authenticate(&self, token: &str) -> Result<Caller, CoreError> {
        let claims = self.shared.tokens.verify(token)?;
        let now = self.shared.clock.now();
        if let Some(hit) = self.shared.sessions.get(&claims.session_id) {
            if hit.user_id != claims.user_id {
                return Err(CoreError::TokenInvalid(
                    "the session belongs to another user".into(),
                ));
            }
            if now > hit.expires_at {
                return Err(CoreError::TokenExpired);
            }
            return Ok(Caller {
                user: hit.user,
                session_id: claims.session_id,
            });
        }
        let session_id = claims.session_id.clone();
        let (session, user) = self
            .blocking(move |store| {
                let Some(session) = store.find_session(&session_id)? else {
                    return Ok((None, None));
                };
                let user = store.find_user(&session.user_id)?;
                Ok((Some(session), user))
            })
            .await?;
        // A session that is gone was purged after it ended.
        let session = session.ok_or(CoreError::SessionRevoked)?;
        if session.user_id != claims.user_id {
            return Err(CoreError::TokenInvalid(
                "the session belongs to another user".into(),
            ));
        }
        if session.revoked_at.is_some() {
            return Err(CoreError::SessionRevoked);
        }
        if session.is_expired_at(now) {
            return Err(CoreError::TokenExpired);
        }
        let user =
            user.ok_or_else(|| CoreError::TokenInvalid("the user no longer exists".into()))?;
        self.shared.sessions.put(&session, &user);
        Ok(Caller {
            user,
            session_id: session.id,
        })
    }

    /// Ends the caller's session now: its token stops working on every instance sharing the
    /// database.
    pub async fn logout(&self, caller: &Caller) -> Result<(), CoreError> {
        let session_id = caller.session_id.clone();
        let now = self.shared.clock.now();
        self.shared.sessions.forget_session(&caller.session_id);
        self.blocking(move |store| store.revoke_session(&session_id, now))
            .await?;
        Ok(())
    }

    /// Applies a profile edit to the caller's own profile and returns the user as it now is.
    pub async fn update_profile(
        &self,
        caller: &Caller,
        edit: ProfileEdit,
    ) -> Result<User, CoreError> {
        self.store_update(caller, edit.validate()?).await
    }

    /// Runs blocking store work on tokio's blocking pool, off the async workers.
    pub(crate) async fn blocking<R, F>(&self, work: F) -> Result<R, CoreError>
    where
        F: FnOnce(&S) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        // Waiting here costs nothing; waiting on a blocking thread costs a thread.
        let _permit = self
            .shared
            .store_permits
            .acquire()
            .await
            .map_err(|e| CoreError::Internal(format!("store permits: {e}")))?;
        let store = Arc::clone(&self.shared.store);
        tokio::task::spawn_blocking(move || work(&store))
            .await
            .map_err(|e| CoreError::Internal(format!("store task failed: {e}")))?
            .map_err(CoreError::from)
    }
}

/// Whether `code` could be a `wx.login` code: non-empty, not absurdly long, printable ASCII
/// without spaces. Anything else is refused without asking WeChat.
pub(crate) fn is_plausible_code(code: &str) -> bool {
    !code.is_empty() && code.len() <= MAX_CODE_LEN && code.bytes().all(|b| b.is_ascii_graphic())
}
