//! Logging in with a `wx.login` code: exchanged once however often it is sent, the account
//! found, created, linked or merged, a session opened, a token issued.

use std::net::IpAddr;
use std::time::Duration;

use wxlogin_domain::{Actor, Audit, AuditKind, NewLogin, OpenedLogin, User, WeChatError};

use super::operators::outcome_of;
use super::{App, LoginService};
use crate::CoreError;
use crate::exchange::{CodeDigest, Replay};

/// The longest code sent on to WeChat. Real `wx.login` codes are 32 characters; anything far
/// longer is not one, and would only cost an upstream call.
pub const MAX_CODE_LEN: usize = 128;

/// How often, and how far apart, a used code is looked for among other instances' logins.
const CODE_LOOKUPS: u32 = 4;
const CODE_LOOKUP_PAUSE: Duration = Duration::from_millis(150);

/// A successful login.
#[derive(Debug, Clone)]
pub struct LoginOutcome {
    /// The access token to send back.
    pub token: String,
    /// Unix seconds at which the access token expires (`access_token_ttl_secs` from now, or
    /// the session's end if sooner).
    pub expires_at: i64,
    /// Seconds from now until then.
    pub expires_in: i64,
    /// The session's current refresh token.
    pub refresh_token: String,
    /// Seconds until the session ends: the refresh token's life.
    pub refresh_expires_in: i64,
    /// Whether the user had an account before this login.
    pub user_existed: bool,
    /// The login session opened.
    pub session_id: String,
    /// The user, as stored.
    pub user: User,
}

impl LoginService {
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
    ///
    /// Every login is recorded in the audit log: a successful one with its session, in the
    /// same transaction; a refused one with its error kind.
    pub async fn login_from(
        &self,
        appid: Option<&str>,
        code: &str,
        client: Option<IpAddr>,
    ) -> Result<LoginOutcome, CoreError> {
        let outcome = self.log_in(appid, code, client).await;
        if let Err(e) = &outcome {
            let known_app = self.app(appid).ok().map(|app| app.wechat.appid());
            self.record_alone(
                Audit::new(AuditKind::Login, Actor::User, self.clock.now())
                    .from_client(client)
                    .entry(None, known_app, None, &outcome_of(e.kind())),
            )
            .await;
        }
        outcome
    }

    async fn log_in(
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
        let outcome = match self.exchange(app, code, &digest, client).await {
            Err(CoreError::WeChat(WeChatError::CodeUsed)) => self
                .replay_from_elsewhere(&digest)
                .await?
                .ok_or(CoreError::WeChat(WeChatError::CodeUsed))?,
            other => other?,
        };
        *first = Some(Replay {
            user_id: outcome.user.id.clone(),
            session_id: outcome.session_id.clone(),
            user_existed: outcome.user_existed,
            answered_at: self.clock.now(),
            client,
        });
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
        let Some(state) = self
            .sessions
            .find_refresh_state(&replay.session_id)
            .await?
            .filter(|s| s.session.revoked_at.is_none() && !s.session.is_expired_at(now))
        else {
            return Ok(None);
        };
        let Some(user) = self.users.find_user(&replay.user_id).await? else {
            return Ok(None);
        };
        if state.user_disabled || user.is_disabled() {
            return Err(CoreError::AccountDisabled);
        }
        // The session's current refresh token: a replay spends none.
        let pair = self.issue_pair(&state.session, state.counter, now)?;
        Ok(Some(LoginOutcome {
            token: pair.token,
            expires_at: pair.expires_at,
            expires_in: (pair.expires_at - now).max(0),
            refresh_token: pair.refresh_token,
            refresh_expires_in: (state.session.expires_at - now).max(0),
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
        client: Option<IpAddr>,
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
                // Recorded only for replays from elsewhere: none when they are off.
                login_code: (self.settings.code_replay_secs > 0).then(|| digest.with_client_hex()),
                client_addr: client.map(wxlogin_domain::client_addr),
            })
            .await?;
        if let Some(merged) = merged {
            self.forget_all(&merged.user_id, &merged.ended_sessions);
            self.cache.update_user(&user);
        }
        // The requests that follow a login use its session at once: cached now, they need no
        // read (a burst of fresh logins would otherwise be a burst of misses).
        self.cache.put(&session, &user, ticket);
        let pair = self.issue_pair(&session, 0, now)?;
        Ok(LoginOutcome {
            token: pair.token,
            expires_at: pair.expires_at,
            expires_in: pair.expires_at - now,
            refresh_token: pair.refresh_token,
            refresh_expires_in: expires_at - now,
            user_existed: !created,
            session_id: session.id,
            user,
        })
    }
}

/// Whether `code` could be a `wx.login` code: non-empty, not absurdly long, printable ASCII
/// without spaces. Anything else is refused without asking WeChat.
pub(super) fn is_plausible_code(code: &str) -> bool {
    !code.is_empty() && code.len() <= MAX_CODE_LEN && code.bytes().all(|b| b.is_ascii_graphic())
}
