//! The WeChat access token, shared by every caller in the process and every instance on the
//! database: one fetch serves them all until shortly before it expires.

use std::sync::PoisonError;
use std::sync::atomic::Ordering;
use std::time::Duration;

use wxlogin_domain::{AccessToken, Cause, WeChatError};

use super::App;
use crate::{CoreError, LoginService};

/// How long an instance may take to fetch a token before others stop waiting for it.
const LEASE_SECS: i64 = 30;
/// How often an instance waiting for another's fetch looks for the result.
const POLL: Duration = Duration::from_millis(100);
/// The longest a caller waits for a token fetched elsewhere before giving up.
const WAIT_FOR_OTHERS: Duration = Duration::from_secs(10);

/// How many access tokens were fetched: by this process, and by all instances on the database
/// (as last seen).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessTokenFetches {
    /// Fetches made by this process.
    pub here: u64,
    /// Fetches made by every instance sharing the database, as last read from it.
    pub total: i64,
}

impl LoginService {
    /// How many access tokens were fetched (quota burn), all apps together.
    pub fn access_token_fetches(&self) -> AccessTokenFetches {
        self.apps
            .values()
            .fold(AccessTokenFetches { here: 0, total: 0 }, |sum, app| {
                AccessTokenFetches {
                    here: sum.here + app.access_token.fetches_here.load(Ordering::Relaxed),
                    total: sum.total + app.access_token.fetches_total.load(Ordering::Relaxed),
                }
            })
    }

    /// Calls a business API with the access token; if WeChat refuses the token (40001, 40014,
    /// 42001), expires that token only, gets another, and calls once more. Never loops; other
    /// errors (45009 among them) are returned as they are.
    pub(super) async fn with_access_token<R, F, Fut>(
        &self,
        app: &App,
        call: F,
    ) -> Result<R, CoreError>
    where
        F: Fn(AccessToken) -> Fut,
        Fut: Future<Output = Result<R, WeChatError>>,
    {
        let token = self.access_token(app).await?;
        match call(token.clone()).await {
            Err(WeChatError::AccessTokenInvalid { errcode }) => {
                log::warn!("WeChat refused the access token ({errcode}); fetching another once");
                self.refuse_access_token(app, &token).await?;
                let token = self.access_token(app).await?;
                Ok(call(token).await?)
            }
            other => Ok(other?),
        }
    }

    /// The current access token: from memory, else from the database, else fetched (by one
    /// caller in this process, and one instance on the database, at a time).
    pub(super) async fn access_token(&self, app: &App) -> Result<AccessToken, CoreError> {
        let broker = &app.access_token;
        if let Some(token) = broker.cached_at(self.clock.now()) {
            return Ok(token);
        }
        let _refreshing = broker.refresh.lock().await;
        // Whoever held the lock before may have refreshed it meanwhile.
        if let Some(token) = broker.cached_at(self.clock.now()) {
            return Ok(token);
        }
        let appid = app.wechat.appid().to_owned();
        let waited_since = std::time::Instant::now();
        loop {
            let now = self.clock.now();
            let stored = self.access_tokens.load_access_token(&appid).await?;
            if let Some(stored) = stored {
                broker
                    .fetches_total
                    .store(stored.fetches, Ordering::Relaxed);
                if now < stored.use_until {
                    if !broker.is_refused(&stored.token) {
                        broker.remember(&stored.token, stored.use_until);
                        return Ok(stored.token);
                    }
                    // Stored again by an instance that had not seen WeChat refuse it.
                    self.access_tokens
                        .expire_access_token(&appid, &stored.token)
                        .await?;
                }
            }
            let leased = self
                .access_tokens
                .lease_access_token_refresh(&appid, &broker.owner, now, now + LEASE_SECS)
                .await?;
            if leased {
                return self.fetch_access_token(app).await;
            }
            if waited_since.elapsed() > WAIT_FOR_OTHERS {
                return Err(CoreError::WeChat(WeChatError::Unavailable(Cause::msg(
                    "another instance is fetching the access token and has not finished",
                ))));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Fetches a token under the lease and stores it for every instance.
    async fn fetch_access_token(&self, app: &App) -> Result<AccessToken, CoreError> {
        let (broker, appid) = (&app.access_token, app.wechat.appid());
        let mut fetches = 1;
        let mut fetched = app.wechat.stable_token(false).await;
        // Normal mode hands out the current token while WeChat considers it valid; if that is
        // the one it just refused, only a forced refresh (20 a day) gives a working one.
        if let Ok(token) = &fetched
            && broker.is_refused(&token.access_token)
        {
            log::warn!("stable_token handed back the refused access token; forcing a refresh");
            fetches += 1;
            fetched = app.wechat.stable_token(true).await;
        }
        broker.fetches_here.fetch_add(fetches, Ordering::Relaxed);
        let owner = &broker.owner;
        let fetches = i64::try_from(fetches).unwrap_or(i64::MAX);
        let fetched = match fetched {
            Ok(fetched) => fetched,
            Err(e) => {
                self.access_tokens
                    .release_access_token_lease(appid, owner, fetches)
                    .await?;
                // Logged once, with its causes, by whoever handles the returned error.
                return Err(e.into());
            }
        };
        let now = self.clock.now();
        let margin = self
            .settings
            .access_token_margin_secs
            .min(fetched.expires_in / 4);
        let use_until = now + fetched.expires_in - margin;
        let total = self
            .access_tokens
            .save_access_token(appid, owner, &fetched.access_token, use_until, fetches)
            .await?;
        broker.fetches_total.store(total, Ordering::Relaxed);
        broker.remember(&fetched.access_token, use_until);
        *broker
            .refused
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
        log::info!(
            "fetched a WeChat access token valid {} s (fetches: {} by this instance, {total} in all)",
            fetched.expires_in,
            broker.fetches_here.load(Ordering::Relaxed),
        );
        Ok(fetched.access_token)
    }

    /// Forgets `token` here and in the database (unless another instance already replaced it).
    async fn refuse_access_token(&self, app: &App, token: &AccessToken) -> Result<(), CoreError> {
        let broker = &app.access_token;
        {
            let mut cached = broker.cached.lock().unwrap_or_else(PoisonError::into_inner);
            if cached.as_ref().is_some_and(|c| &c.token == token) {
                *cached = None;
            }
        }
        *broker
            .refused
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(token.clone());
        self.access_tokens
            .expire_access_token(app.wechat.appid(), token)
            .await?;
        Ok(())
    }
}
