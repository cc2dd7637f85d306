use std::sync::Arc;

use wxlogin_store::{NewSession, StoreError, User, UserStore};
use wxlogin_token::{Clock, SessionToken, TokenCodec};
use wxlogin_wechat::WeChatApi;

use crate::{CoreError, ProfileEdit};

/// The longest code sent on to WeChat. Real `wx.login` codes are 32 characters; anything far
/// longer is not one, and would only cost an upstream call.
pub const MAX_CODE_LEN: usize = 128;

/// Policy of the use case.
#[derive(Debug, Clone)]
pub struct LoginSettings {
    /// Lifetime of a login session, in seconds; a token expires with its session.
    pub session_ttl_secs: i64,
}

impl Default for LoginSettings {
    /// Seven days, like the contract's example.
    fn default() -> Self {
        Self {
            session_ttl_secs: 7 * 24 * 3600,
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

/// The login use case. Generic over its boundaries so each can be mocked or replaced.
pub struct LoginService<W, S, T> {
    wechat: W,
    store: Arc<S>,
    tokens: Arc<T>,
    clock: Arc<dyn Clock>,
    settings: LoginSettings,
}

impl<W, S, T> LoginService<W, S, T>
where
    W: WeChatApi,
    S: UserStore + 'static,
    T: TokenCodec,
{
    /// A service over these parts.
    pub fn new(
        wechat: W,
        store: Arc<S>,
        tokens: Arc<T>,
        clock: Arc<dyn Clock>,
        settings: LoginSettings,
    ) -> Self {
        Self {
            wechat,
            store,
            tokens,
            clock,
            settings,
        }
    }

    /// The store, for callers that need more than the use case offers (health checks).
    pub fn store(&self) -> &Arc<S> {
        &self.store
    }

    /// Logs in with a `wx.login` code: exchanges it, finds or creates the user, opens a session
    /// holding the session_key and issues a token that expires with it.
    pub async fn login(&self, code: &str) -> Result<LoginOutcome, CoreError> {
        if !is_plausible_code(code) {
            return Err(CoreError::MalformedCode);
        }
        let wechat = self.wechat.code2session(code).await?;
        let now = self.clock.now();
        let expires_at = now.saturating_add(self.settings.session_ttl_secs);
        let (user, session) = self
            .blocking(move |store| {
                let (user, created) =
                    store.find_or_create_user(&wechat.openid, wechat.unionid.as_ref(), now)?;
                let session = store.create_session(&NewSession {
                    user_id: user.id.clone(),
                    session_key: wechat.session_key,
                    created_at: now,
                    expires_at,
                })?;
                Ok(((user, created), session))
            })
            .await?;
        let (user, created) = user;
        let token = self.tokens.issue(&SessionToken {
            user_id: user.id.clone(),
            session_id: session.id,
            expires_at,
        })?;
        Ok(LoginOutcome {
            token,
            expires_at,
            expires_in: expires_at - now,
            user_existed: !created,
            user,
        })
    }

    /// Checks a token and its session, and says who is calling.
    pub async fn authenticate(&self, token: &str) -> Result<Caller, CoreError> {
        let claims = self.tokens.verify(token)?;
        let now = self.clock.now();
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
        Ok(Caller {
            user,
            session_id: session.id,
        })
    }

    /// Ends the caller's session now: its token stops working on every instance sharing the
    /// database.
    pub async fn logout(&self, caller: &Caller) -> Result<(), CoreError> {
        let session_id = caller.session_id.clone();
        let now = self.clock.now();
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
        let update = edit.validate()?;
        if update.is_empty() {
            return Ok(caller.user.clone());
        }
        let user_id = caller.user.id.clone();
        let now = self.clock.now();
        self.blocking(move |store| store.update_profile(&user_id, &update, now))
            .await?
            .ok_or_else(|| CoreError::TokenInvalid("the user no longer exists".into()))
    }

    /// Runs blocking store work on tokio's blocking pool, off the async workers.
    async fn blocking<R, F>(&self, work: F) -> Result<R, CoreError>
    where
        F: FnOnce(&S) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || work(&store))
            .await
            .map_err(|e| CoreError::Internal(format!("store task failed: {e}")))?
            .map_err(CoreError::from)
    }
}

/// Whether `code` could be a `wx.login` code: non-empty, not absurdly long, printable ASCII
/// without spaces. Anything else is refused without asking WeChat.
fn is_plausible_code(code: &str) -> bool {
    !code.is_empty() && code.len() <= MAX_CODE_LEN && code.bytes().all(|b| b.is_ascii_graphic())
}
