//! [`LoginService`]: what a process shares (the apps, the ports, the caches), and the
//! questions every use case asks of it. The use cases are its child modules, one file each
//! (`service/login.rs`, `authentication.rs`, `account.rs`, `user_data.rs`, `push.rs`,
//! `access_token.rs`), and `service/builder.rs` puts it together: the service's fields are
//! private to them, and the components they use (`cache.rs`, `exchange.rs`, `limits.rs`,
//! `seen_pushes.rs`, `access_token_cache.rs`) never see the service.

pub(crate) mod access_token;
mod account;
mod authentication;
mod avatar;
pub(crate) mod builder;
pub(crate) mod login;
pub(crate) mod operators;
pub(crate) mod push;
mod push_events;
mod quotas;
pub(crate) mod refresh;
pub(crate) mod revocations;
pub(crate) mod user_data;

use std::collections::BTreeMap;
use std::sync::Arc;

use wxlogin_domain::{
    AccessTokenStore, Clock, SessionStore, Subscription, TokenCodec, User, UserStore, WeChatApi,
};
use wxlogin_wechat_protocol::PushSettings;

use crate::CoreError;
use crate::access_token_cache::AccessTokenBroker;
use crate::cache::SessionCache;
use crate::content_checks::ContentChecks;
use crate::deployment_limits::DeploymentLimits;
use crate::exchange::CodeExchanges;
use crate::limits::{PerKeyLimit, Verdicts};
use crate::media::Media;
use crate::quota_pauses::QuotaPauses;
use crate::seen_pushes::SeenPushes;
use crate::settings::LoginSettings;
use crate::verified_tokens::VerifiedTokens;

/// How much longer than the replay window a login code's record is kept: the instances that
/// look it up stamp their own clock, which may be off the one that recorded it.
const LOGIN_CODE_MARGIN_SECS: i64 = 60;

/// Who is calling, once their token and session have been checked.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user.
    pub user: User,
    /// The session the token belongs to.
    pub session_id: String,
    /// The mini program that session was opened through.
    pub appid: String,
    /// The address the request came from, as the server knows it: recorded in the audit
    /// log with what the caller changes. Set by the transport after authentication.
    pub client: Option<std::net::IpAddr>,
}

impl Caller {
    /// The note the audit log takes of a change of `kind` the caller makes at `at`.
    pub(crate) fn audit(&self, kind: wxlogin_domain::AuditKind, at: i64) -> wxlogin_domain::Audit {
        wxlogin_domain::Audit::new(kind, wxlogin_domain::Actor::User, at).from_client(self.client)
    }
}

/// One mini program the service serves: its WeChat API, and its access token (they are per
/// app).
struct App {
    wechat: Arc<dyn WeChatApi>,
    access_token: AccessTokenBroker,
    /// Its message-push settings, if WeChat's pushes are received for it.
    push: Option<PushSettings>,
}

/// The use cases of wxlogin over its ports: log in, authenticate, log out, edit the profile,
/// apply WeChat user data and phone numbers.
///
/// `Send + Sync`: build one per process ([`LoginService::builder`]) and share the `Arc` with
/// every thread and task. It holds what a process shares: the access-token cache, the codes
/// being exchanged, the session cache and its subscription to the change feed.
pub struct LoginService {
    /// By appid.
    apps: BTreeMap<String, App>,
    users: Arc<dyn UserStore>,
    sessions: Arc<dyn SessionStore>,
    access_tokens: Arc<dyn AccessTokenStore>,
    /// The audit log, for what changes nothing (the store records changes itself).
    audit: Option<Arc<dyn wxlogin_domain::AuditLog>>,
    /// Bans, session lists, deletions by operators.
    operators: Option<Arc<dyn wxlogin_domain::OperatorStore>>,
    tokens: Arc<dyn TokenCodec>,
    clock: Arc<dyn Clock>,
    settings: LoginSettings,
    exchanges: CodeExchanges,
    cache: Arc<SessionCache>,
    /// Access tokens whose signature was checked.
    verified: VerifiedTokens,
    /// Counts the ends of sessions the change feed tells: readers of the revocation feed wait
    /// on it.
    ended: tokio::sync::watch::Sender<u64>,
    /// Readers of the revocation feed allowed to wait at once.
    revocation_waiters: Arc<tokio::sync::Semaphore>,
    /// USER_RATE_LIMIT in this process: what decides when limits are not shared.
    user_calls: PerKeyLimit,
    /// The limits and quota pauses of the whole deployment, when the store shares them.
    limits: Arc<DeploymentLimits>,
    /// The quotas this process saw spent (phone numbers; content checks keep their own).
    quotas: QuotaPauses,
    verdicts: Verdicts,
    /// The pushes accepted within their timestamp window, not to be applied twice.
    seen_pushes: SeenPushes,
    /// Uploaded avatars, when the service takes them.
    media: Option<Media>,
    content_checks: ContentChecks,
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

impl LoginService {
    /// The limits of the deployment: the server counts its login rate limit there too.
    pub fn limits(&self) -> &DeploymentLimits {
        &self.limits
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
    fn app_of(&self, caller: &Caller) -> Result<&App, CoreError> {
        self.apps.get(&caller.appid).ok_or_else(|| {
            // A session of an app this instance no longer serves (its configuration changed).
            CoreError::UnknownApp(Some(caller.appid.clone()))
        })
    }

    /// Forgets a user and sessions of theirs that ended here, at once (other instances hear
    /// of it from the change feed).
    fn forget_all(&self, user_id: &str, sessions: &[String]) {
        self.cache.forget_all(user_id, sessions);
    }

    /// Deletes the sessions that ended (expired, logged out) more than `after` seconds ago, and
    /// says how many: run it on a schedule, so the store does not keep every login forever.
    /// Any instance may run it; running it twice is harmless.
    pub async fn purge_ended_sessions(&self, after: i64) -> Result<usize, CoreError> {
        let before = self.clock.now().saturating_sub(after.max(0));
        Ok(self.sessions.purge_sessions(before).await?)
    }

    /// Deletes the records of login codes older than the replay window (`code_replay_secs`,
    /// and never less than the default's, since an instance with replays off still purges what
    /// others recorded) and a minute's margin for instances whose clocks differ, and says how
    /// many: run it every few seconds, so that the table a login writes its code to stays the
    /// size of about a minute of logins. Any instance may run it; running it twice is harmless.
    /// The instances of one deployment share their `code_replay_secs`, as their other settings.
    pub async fn purge_spent_login_codes(&self) -> Result<usize, CoreError> {
        let window = self
            .settings
            .code_replay_secs
            .max(LoginSettings::DEFAULT_CODE_REPLAY_SECS);
        let keep = window + LOGIN_CODE_MARGIN_SECS;
        let before = self.clock.now().saturating_sub(keep);
        Ok(self.sessions.purge_login_codes(before).await?)
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
