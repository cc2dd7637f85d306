//! Wiring a [`LoginService`]: the same for the server and for embedders.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::verified_tokens::VerifiedTokens;

use wxlogin_domain::{
    AccessTokenStore, AuditLog, AvatarStore, ChangeFeed, Clock, MediaStore, OperatorStore,
    SessionStore, SharedLimits, StoreChange, StoreError, SystemClock, TokenCodec, UserStore,
    WeChatApi,
};
use wxlogin_wechat_protocol::PushSettings;

use super::push::PUSH_TIMESTAMP_WINDOW_SECS;
use super::{App, LoginService};
use crate::access_token_cache::AccessTokenBroker;
use crate::cache::SessionCache;
use crate::content_checks::{ContentCheckSettings, ContentChecks};
use crate::deployment_limits::DeploymentLimits;
use crate::exchange::CodeExchanges;
use crate::limits::{PerKeyLimit, Verdicts};
use crate::media::{Media, MediaSettings};
use crate::seen_pushes::SeenPushes;
use crate::settings::{FEED_GRACE, LoginSettings};

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
/// store port ([`LoginServiceBuilder::store`], what `wxlogin_user_store::DieselStore` does) or
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
    audit: Option<Arc<dyn AuditLog>>,
    operators: Option<Arc<dyn OperatorStore>>,
    changes: Option<Arc<dyn ChangeFeed>>,
    clock: Option<Arc<dyn Clock>>,
    settings: LoginSettings,
    media: Option<Media>,
    content_checks: ContentCheckSettings,
    shared_limits: Option<Arc<dyn SharedLimits>>,
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

    /// One store for users, sessions, the access token, the audit log, the operators' port and
    /// the change feed.
    pub fn store<S>(self, store: Arc<S>) -> Self
    where
        S: UserStore
            + SessionStore
            + AccessTokenStore
            + AuditLog
            + OperatorStore
            + ChangeFeed
            + 'static,
    {
        self.users(store.clone())
            .sessions(store.clone())
            .access_tokens(store.clone())
            .audit_log(store.clone())
            .operators(store.clone())
            .change_feed(store)
    }

    /// The audit log, for what changes nothing (refused logins, refused admin keys); the
    /// stores record changes themselves (optional: without it, those go unrecorded).
    pub fn audit_log(mut self, audit: Arc<dyn AuditLog>) -> Self {
        self.audit = Some(audit);
        self
    }

    /// The operators' port: bans, session lists, deletions by operators (optional: without
    /// it, those fail).
    pub fn operators(mut self, operators: Arc<dyn OperatorStore>) -> Self {
        self.operators = Some(operators);
        self
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

    /// Takes avatar uploads: files kept in `files`, their records in `records`, by
    /// `settings`. Without it, uploads answer [`CoreError::MediaNotConfigured`](crate::CoreError::MediaNotConfigured).
    pub fn media(
        mut self,
        files: Arc<dyn MediaStore>,
        records: Arc<dyn AvatarStore>,
        settings: MediaSettings,
    ) -> Self {
        self.media = Some(Media::new(files, records, settings));
        self
    }

    /// Whether and how nicknames and avatars pass WeChat's content security (off by
    /// default).
    pub fn content_checks(mut self, settings: ContentCheckSettings) -> Self {
        self.content_checks = settings;
        self
    }

    /// Limits counted for every instance of the deployment (`USER_RATE_LIMIT`, WeChat's quota
    /// pauses, and the server's login rate limit). Optional: without it, each process limits
    /// by itself, which is right for a store one process serves (SQLite).
    pub fn shared_limits(mut self, limits: Arc<dyn SharedLimits>) -> Self {
        self.shared_limits = Some(limits);
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
            .with_bytes(settings.session_cache_bytes),
        );
        let (ended, _) = tokio::sync::watch::channel(0u64);
        let changes = match self.changes {
            Some(feed) => {
                let to = Arc::clone(&cache);
                let caching = !settings.session_cache.is_zero();
                let ends = ended.clone();
                feed.subscribe(Box::new(move |change| {
                    if caching {
                        to.apply_change(&change);
                    }
                    // A missed stretch may have held ends too: readers ask again.
                    if matches!(change, StoreChange::SessionEnded(_) | StoreChange::Missed) {
                        ends.send_modify(|n| *n = n.wrapping_add(1));
                    }
                }))
                .map_err(BuildError::ChangeFeed)?
            }
            None => None,
        };
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        Ok(Arc::new(LoginService {
            apps,
            users,
            sessions,
            access_tokens,
            audit: self.audit,
            operators: self.operators,
            tokens,
            limits: Arc::new(DeploymentLimits::new(
                self.shared_limits,
                Arc::clone(&clock),
            )),
            quotas: Default::default(),
            clock,
            exchanges: CodeExchanges::new(settings.code_replay_secs),
            cache,
            verified: VerifiedTokens::new(settings.verified_token_bytes),
            ended,
            revocation_waiters: Arc::new(tokio::sync::Semaphore::new(
                super::revocations::MAX_WAITERS,
            )),
            user_calls: PerKeyLimit::new(settings.user_rate_limit, Duration::from_secs(60)),
            verdicts: Verdicts::new(settings.checksession_memory),
            seen_pushes: SeenPushes::new(PUSH_TIMESTAMP_WINDOW_SECS),
            media: self.media,
            content_checks: ContentChecks::new(self.content_checks),
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
}
