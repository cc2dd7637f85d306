//! Configuration, read once from the environment at start-up: [`Config::from_env`] reads each
//! part from the file that knows it (`wechat.rs`, `secrets.rs`, `database.rs`,
//! `listeners.rs`; numbers through `vars.rs`), collecting every problem.

use std::net::SocketAddr;
use std::time::Duration;

use wxlogin_core::LoginSettings;
use wxlogin_user_store::{DEFAULT_POOL_SIZE, DatabaseUrl, SealingSecret};
use wxlogin_wechat_client::WeChatConfig;

mod admin;
mod database;
mod listeners;
mod media;
mod secrets;
#[cfg(test)]
mod tests;
mod tokens;
mod vars;
mod webhooks;
mod wechat;

pub use admin::{AdminConfig, DEFAULT_AUDIT_RETENTION_DAYS};
pub use database::DEFAULT_DATABASE_URL;
pub use media::{MediaConfig, MediaStoreConfig, listening_base_url};
pub use tokens::{TokenAlgorithm, TokenSettings};
use vars::Vars;
pub use webhooks::routes_of;

/// The token signing key; `Debug` hides it.
#[derive(Clone)]
pub struct TokenSecret(Vec<u8>);

impl TokenSecret {
    /// The key bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSecret(<redacted>)")
    }
}

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Dev mode: the built-in fake WeChat, no credentials needed.
    pub dev: bool,
    /// The mini programs served, each with how to reach WeChat for it (in dev mode,
    /// `api_base` is replaced by the fake's address).
    pub apps: Vec<AppConfig>,
    /// Signs login tokens.
    pub token_secret: TokenSecret,
    /// Seals session_keys and the access token at rest (`SESSION_KEY_SECRET`, else derived
    /// from the token secret).
    pub sealing_secret: SealingSecret,
    /// The sealing secret before a rotation (`SESSION_KEY_SECRET_PREVIOUS`), still accepted for
    /// reading.
    pub previous_sealing_secret: Option<SealingSecret>,
    /// Lifetime of a login session, seconds.
    pub session_ttl_secs: i64,
    /// How tokens are signed and how long they live.
    pub tokens: TokenSettings,
    /// How long a live session, once read, is trusted without the database, milliseconds.
    pub session_cache_ms: u64,
    /// How long, while PostgreSQL's change feed is heard, seconds; 0: `session_cache_ms` only.
    pub session_cache_feed_secs: u64,
    /// The memory the session cache may hold, in bytes (`SESSION_CACHE_MB`).
    pub session_cache_bytes: u64,
    /// Ended sessions are deleted this long after they end (and looked for as often, at most
    /// hourly), seconds; 0 keeps them.
    pub session_purge_secs: i64,
    /// `sqlite://...` or `postgres://...`.
    pub database_url: String,
    /// Where the change feed listens on PostgreSQL (`DATABASE_LISTEN_URL`): a direct connection
    /// where `DATABASE_URL` goes through a transaction-mode pooler; `None`: `DATABASE_URL`.
    pub database_listen_url: Option<DatabaseUrl>,
    /// Most database connections at once.
    pub db_pool_size: u32,
    /// Where to listen.
    pub bind_addr: SocketAddr,
    /// Where `/metrics` listens, on a listener of its own; `None`: no metrics served.
    pub metrics_bind_addr: Option<SocketAddr>,
    /// Login attempts per client IP per minute; 0 turns the limit off.
    pub login_rate_limit: u32,
    /// How long a login code's first answer is replayed to copies of it, seconds.
    pub code_replay_secs: i64,
    /// User-data calls (`/api/me/userinfo`, `/api/me/phone`) per account per minute; 0 off.
    pub user_rate_limit: u32,
    /// Reverse proxies whose `X-Forwarded-For` names the client (`TRUSTED_PROXIES`).
    pub trusted_proxies: Vec<crate::client_addr::Network>,
    /// Largest request body accepted, bytes.
    pub max_body_bytes: usize,
    /// actix workers (threads serving requests).
    pub workers: usize,
    /// Avatars and content security.
    pub media: MediaConfig,
    /// The admin API and the audit log's retention.
    pub admin: AdminConfig,
    /// The endpoints of `WEBHOOKS_FILE`.
    pub webhooks: Vec<wxlogin_webhooks::Endpoint>,
}

/// One mini program served.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// How to reach WeChat as this app.
    pub wechat: WeChatConfig,
    /// Its message-push settings, if any.
    pub push: Option<wxlogin_wechat_client::PushSettings>,
}

/// How long ended sessions are kept when `SESSION_PURGE_SECS` is not set: a day, so that a
/// token of a session ended today is still told `session_revoked` or `token_expired` apart.
pub const DEFAULT_SESSION_PURGE_SECS: i64 = 24 * 3600;

/// Login attempts per IP per minute when `LOGIN_RATE_LIMIT` is not set.
pub const DEFAULT_LOGIN_RATE_LIMIT: u32 = 60;

/// `SESSION_CACHE_MB` is in mebibytes.
const MIB: u64 = 1024 * 1024;

impl Config {
    /// Reads the configuration through `var` (the environment, in `main`), collecting every
    /// problem rather than stopping at the first, each naming its variable.
    pub fn from_env(dev: bool, var: impl Fn(&str) -> Option<String>) -> Result<Self, Vec<String>> {
        let mut vars = Vars::new(var);
        let apps = wechat::apps(dev, &mut vars);
        let token_secret = secrets::token_secret(dev, &mut vars);
        let sealing_secret = secrets::sealing_secret(dev, &mut vars, "SESSION_KEY_SECRET");
        let previous_sealing_secret =
            secrets::sealing_secret(dev, &mut vars, "SESSION_KEY_SECRET_PREVIOUS");

        const YEAR: i64 = 366 * 24 * 3600;
        let session_ttl_secs = vars.number(
            "SESSION_TTL_SECS",
            LoginSettings::DEFAULT_SESSION_TTL_SECS,
            1..=YEAR,
        );
        let tokens = tokens::token_settings(&mut vars);
        let session_cache_ms = vars.number(
            "SESSION_CACHE_MS",
            u64::try_from(LoginSettings::DEFAULT_SESSION_CACHE.as_millis()).unwrap_or(u64::MAX),
            0..=60_000,
        );
        let session_cache_feed_secs = vars.number(
            "SESSION_CACHE_FEED_SECS",
            LoginSettings::DEFAULT_SESSION_CACHE_WITH_FEED.as_secs(),
            0..=3600,
        );
        let session_cache_mb = vars.number(
            "SESSION_CACHE_MB",
            LoginSettings::DEFAULT_SESSION_CACHE_BYTES / MIB,
            1..=64 * 1024,
        );
        if vars.get("SESSION_CACHE_CAPACITY").is_some() {
            vars.problem(
                "SESSION_CACHE_CAPACITY is gone: the session cache is sized in memory now, \
                 SESSION_CACHE_MB (about 1.2 KiB a session; 1 MiB holds about 850)",
            );
        }
        let session_purge_secs =
            vars.number("SESSION_PURGE_SECS", DEFAULT_SESSION_PURGE_SECS, 0..=YEAR);
        let login_rate_limit =
            vars.number("LOGIN_RATE_LIMIT", DEFAULT_LOGIN_RATE_LIMIT, 0..=1_000_000);
        let code_replay_secs = vars.number(
            "CODE_REPLAY_SECS",
            LoginSettings::DEFAULT_CODE_REPLAY_SECS,
            0..=300,
        );
        let user_rate_limit = vars.number(
            "USER_RATE_LIMIT",
            LoginSettings::DEFAULT_USER_RATE_LIMIT,
            0..=1_000_000,
        );
        let trusted_proxies = listeners::trusted_proxies(&mut vars);
        let max_body_bytes = vars.number("MAX_BODY_BYTES", 64 * 1024, 1024..=16 * 1024 * 1024);
        let wechat_timeout_secs = vars.number(
            "WECHAT_TIMEOUT_SECS",
            wechat::default_timeout_secs(),
            1..=60,
        );
        let db_pool_size = vars.number("DB_POOL_SIZE", DEFAULT_POOL_SIZE, 1..=1000);
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let workers = vars.number("WORKERS", cores, 1..=256);

        let database_url = database::database_url(dev, &mut vars);
        let database_listen_url = database::listen_url(&mut vars, &database_url);
        let bind_addr = listeners::bind_addr(dev, &mut vars);
        let metrics_bind_addr = listeners::metrics_bind_addr(dev, &mut vars, bind_addr);
        let api_base = wechat::api_base(dev, &mut vars);
        let media = media::media_config(dev, &mut vars);
        let admin = admin::admin_config(dev, &mut vars, bind_addr);
        let webhooks = webhooks::webhook_endpoints(&mut vars);
        vars.problems()?;

        let apps = apps
            .into_iter()
            .map(|app| {
                let mut wechat =
                    WeChatConfig::new(app.appid, app.secret).with_api_base(api_base.clone());
                wechat.timeout = Duration::from_secs(wechat_timeout_secs);
                AppConfig {
                    wechat,
                    push: app.push,
                }
            })
            .collect();
        // The sealer derives its own key (HKDF, its own label), so the token secret can serve
        // as the sealing secret's default without the two keys being the same. Both minimums
        // are 32 bytes, so a token secret that passed is a sealing secret too.
        let sealing_secret = match sealing_secret {
            Some(secret) => secret,
            None => SealingSecret::new(token_secret.clone()).map_err(|e| {
                vec![format!(
                    "TOKEN_SECRET cannot serve as the sealing secret ({e}); set SESSION_KEY_SECRET"
                )]
            })?,
        };
        Ok(Self {
            dev,
            apps,
            sealing_secret,
            previous_sealing_secret,
            token_secret: TokenSecret(token_secret),
            session_ttl_secs,
            tokens,
            session_cache_ms,
            session_cache_feed_secs,
            session_cache_bytes: session_cache_mb * MIB,
            session_purge_secs,
            database_url,
            database_listen_url,
            db_pool_size,
            bind_addr,
            metrics_bind_addr,
            login_rate_limit,
            trusted_proxies,
            user_rate_limit,
            code_replay_secs,
            max_body_bytes,
            workers,
            media,
            admin,
            webhooks,
        })
    }
}
