//! Configuration, read once from the environment at start-up.

use std::net::SocketAddr;
use std::time::Duration;

use wxlogin_core::LoginSettings;
use wxlogin_domain::AppSecret;
#[cfg(feature = "dev")]
use wxlogin_fake_wechat::{DEV_APPIDS, DEV_SECRET};
use wxlogin_store::{DEFAULT_POOL_SIZE, DatabaseUrl, MIN_SECRET_LEN, SealingSecret};
use wxlogin_token::MIN_KEY_LEN;
use wxlogin_wechat::{DEFAULT_API_BASE, WeChatConfig};

use crate::apps::{AppSettings, is_plausible_appid, parse_apps_file, push_settings};

/// Without the `dev` feature there is no fake to talk to; `--dev` is refused before these
/// would be used.
#[cfg(not(feature = "dev"))]
const DEV_APPIDS: [&str; 3] = ["", "", ""];
#[cfg(not(feature = "dev"))]
const DEV_SECRET: &str = "";

/// The production settings `--dev` refuses: dev mode talks to a fake, and a real secret
/// given to it would sign or seal with a value meant for production.
const PRODUCTION_ONLY: [&str; 9] = [
    "WECHAT_APPID",
    "WECHAT_SECRET",
    "WECHAT_APPS_FILE",
    "WECHAT_PUSH_TOKEN",
    "WECHAT_PUSH_AES_KEY",
    "WECHAT_API_BASE",
    "TOKEN_SECRET",
    "SESSION_KEY_SECRET",
    "SESSION_KEY_SECRET_PREVIOUS",
];

/// The push settings of the fake apps in dev mode: the fake signs its pushes with the same.
#[cfg(feature = "dev")]
fn dev_push_settings() -> Option<wxlogin_wechat::PushSettings> {
    wxlogin_wechat::PushSettings::new(
        wxlogin_fake_wechat::DEV_PUSH_TOKEN,
        Some(wxlogin_fake_wechat::DEV_PUSH_AES_KEY),
    )
    .ok()
}

#[cfg(not(feature = "dev"))]
fn dev_push_settings() -> Option<wxlogin_wechat::PushSettings> {
    None
}

/// Most fake mini programs dev mode plays (`DEV_APPS`).
const MAX_DEV_APPS: i64 = 3;

/// The key that signs tokens in dev mode. Public, so dev tokens are worthless anywhere else.
const DEV_TOKEN_SECRET: &str = "wxlogin dev mode token secret -- not for production";

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
    /// How long a live session, once read, is trusted without the database, milliseconds.
    pub session_cache_ms: u64,
    /// How long, while PostgreSQL's change feed is heard, seconds; 0: `session_cache_ms` only.
    pub session_cache_feed_secs: u64,
    /// How many live sessions the cache holds at most.
    pub session_cache_capacity: usize,
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
}

/// One mini program served.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// How to reach WeChat as this app.
    pub wechat: WeChatConfig,
    /// Its message-push settings, if any.
    pub push: Option<wxlogin_wechat::PushSettings>,
}

/// How long ended sessions are kept when `SESSION_PURGE_SECS` is not set: a day, so that a
/// token of a session ended today is still told `session_revoked` or `token_expired` apart.
pub const DEFAULT_SESSION_PURGE_SECS: i64 = 24 * 3600;

/// Login attempts per IP per minute when `LOGIN_RATE_LIMIT` is not set.
pub const DEFAULT_LOGIN_RATE_LIMIT: u32 = 60;
/// The SQLite file used when `DATABASE_URL` is not set.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://wxlogin.db";

impl Config {
    /// Reads the configuration through `var` (the environment, in `main`), collecting every
    /// problem rather than stopping at the first, each naming its variable.
    pub fn from_env(dev: bool, var: impl Fn(&str) -> Option<String>) -> Result<Self, Vec<String>> {
        let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let mut problems = Vec::new();

        let apps = if dev {
            if !cfg!(feature = "dev") {
                problems.push(
                    "--dev is not available: this wxlogin-server was built without the `dev` \
                     feature, so the fake WeChat is not in it"
                        .to_owned(),
                );
            }
            for name in PRODUCTION_ONLY
                .into_iter()
                .filter(|name| var(name).is_some())
            {
                problems.push(format!(
                    "{name} is set, but --dev talks to a fake WeChat and never runs with \
                     production settings: unset {name} or drop --dev"
                ));
            }
            let count = number(&var, &mut problems, "DEV_APPS", 1, 1, MAX_DEV_APPS);
            DEV_APPIDS
                .iter()
                .take(usize::try_from(count).unwrap_or(1))
                .map(|appid| AppSettings {
                    appid: (*appid).to_owned(),
                    secret: AppSecret::new(DEV_SECRET),
                    push: dev_push_settings(),
                })
                .collect()
        } else {
            apps_from_env(&var, &mut problems)
        };
        let token_secret = match var("TOKEN_SECRET") {
            None if dev => DEV_TOKEN_SECRET.as_bytes().to_vec(),
            Some(_) if dev => Vec::new(),
            Some(s) if s.len() >= MIN_KEY_LEN => s.into_bytes(),
            Some(s) => {
                problems.push(format!(
                    "TOKEN_SECRET is {} bytes long; at least {MIN_KEY_LEN} are required",
                    s.len()
                ));
                Vec::new()
            }
            None => {
                problems.push(format!(
                    "TOKEN_SECRET is required (at least {MIN_KEY_LEN} random bytes)"
                ));
                Vec::new()
            }
        };

        let mut sealing = |name: &str| match var(name).filter(|_| !dev) {
            Some(s) => match SealingSecret::new(s.into_bytes()) {
                Ok(secret) => Some(secret),
                Err(_) => {
                    problems.push(format!(
                        "{name} is {} bytes long; at least {MIN_SECRET_LEN} are required",
                        var(name).map_or(0, |s| s.len())
                    ));
                    None
                }
            },
            None => None,
        };
        let sealing_secret = sealing("SESSION_KEY_SECRET");
        let previous_sealing_secret = sealing("SESSION_KEY_SECRET_PREVIOUS");

        let session_ttl_secs = number(
            &var,
            &mut problems,
            "SESSION_TTL_SECS",
            LoginSettings::DEFAULT_SESSION_TTL_SECS,
            1,
            366 * 24 * 3600,
        );
        let session_cache_ms = number(
            &var,
            &mut problems,
            "SESSION_CACHE_MS",
            i64::try_from(LoginSettings::DEFAULT_SESSION_CACHE.as_millis()).unwrap_or(1000),
            0,
            60_000,
        );
        let session_cache_feed_secs = number(
            &var,
            &mut problems,
            "SESSION_CACHE_FEED_SECS",
            i64::try_from(LoginSettings::DEFAULT_SESSION_CACHE_WITH_FEED.as_secs()).unwrap_or(60),
            0,
            3600,
        );
        let session_cache_capacity = number(
            &var,
            &mut problems,
            "SESSION_CACHE_CAPACITY",
            i64::try_from(LoginSettings::DEFAULT_SESSION_CACHE_CAPACITY).unwrap_or(4096),
            0,
            10_000_000,
        );
        let session_purge_secs = number(
            &var,
            &mut problems,
            "SESSION_PURGE_SECS",
            DEFAULT_SESSION_PURGE_SECS,
            0,
            366 * 24 * 3600,
        );
        let login_rate_limit = number(
            &var,
            &mut problems,
            "LOGIN_RATE_LIMIT",
            i64::from(DEFAULT_LOGIN_RATE_LIMIT),
            0,
            1_000_000,
        );
        let code_replay_secs = number(
            &var,
            &mut problems,
            "CODE_REPLAY_SECS",
            LoginSettings::DEFAULT_CODE_REPLAY_SECS,
            0,
            300,
        );
        let user_rate_limit = number(
            &var,
            &mut problems,
            "USER_RATE_LIMIT",
            i64::from(LoginSettings::DEFAULT_USER_RATE_LIMIT),
            0,
            1_000_000,
        );
        let trusted_proxies = var("TRUSTED_PROXIES")
            .map(|list| {
                list.split(',')
                    .map(str::trim)
                    .filter(|entry| !entry.is_empty())
                    .filter_map(|entry| {
                        let network = crate::client_addr::Network::parse(entry);
                        if network.is_none() {
                            problems.push(format!(
                                "TRUSTED_PROXIES: {entry:?} is neither an address nor a CIDR block \
                                 like 10.0.0.0/8"
                            ));
                        }
                        network
                    })
                    .collect()
            })
            .unwrap_or_default();
        let max_body_bytes = number(
            &var,
            &mut problems,
            "MAX_BODY_BYTES",
            64 * 1024,
            1024,
            16 * 1024 * 1024,
        );
        let default_wechat = WeChatConfig::new(String::new(), AppSecret::new(String::new()));
        let timeout_secs = number(
            &var,
            &mut problems,
            "WECHAT_TIMEOUT_SECS",
            i64::try_from(default_wechat.timeout.as_secs()).unwrap_or(5),
            1,
            60,
        );
        let db_pool_size = number(
            &var,
            &mut problems,
            "DB_POOL_SIZE",
            i64::from(DEFAULT_POOL_SIZE),
            1,
            1000,
        );
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let workers = number(
            &var,
            &mut problems,
            "WORKERS",
            i64::try_from(cores).unwrap_or(2),
            1,
            256,
        );

        let database_url = var("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        match DatabaseUrl::parse(&database_url) {
            Err(e) => problems.push(format!("DATABASE_URL: {e}")),
            // Dev mode's users are fakes: they have no business in a shared database.
            Ok(url) if dev && url.is_postgres() => problems.push(
                "DATABASE_URL is a PostgreSQL database, but --dev runs on SQLite only: use \
                 sqlite://<path> or drop --dev"
                    .to_owned(),
            ),
            Ok(_) => {}
        }
        let database_listen_url =
            var("DATABASE_LISTEN_URL").and_then(|listen| match DatabaseUrl::parse(&listen) {
                Ok(listen) if listen.is_postgres() && database_url.starts_with("postgres") => {
                    Some(listen)
                }
                Ok(_) => {
                    problems.push(
                        "DATABASE_LISTEN_URL is for a PostgreSQL DATABASE_URL, and must be a \
                         postgres:// URL itself (a direct connection for the change feed)"
                            .to_owned(),
                    );
                    None
                }
                Err(e) => {
                    problems.push(format!("DATABASE_LISTEN_URL: {e}"));
                    None
                }
            });

        let bind_addr = var("BIND_ADDR").unwrap_or_else(|| "127.0.0.1:8080".to_owned());
        let bind_addr = bind_addr.parse().unwrap_or_else(|_| {
            problems.push(format!(
                "BIND_ADDR {bind_addr:?} is not an address like 127.0.0.1:8080"
            ));
            SocketAddr::from(([127, 0, 0, 1], 8080))
        });
        if dev && !bind_addr.ip().is_loopback() {
            problems.push(format!(
                "BIND_ADDR {bind_addr} is not a loopback address, but --dev listens on this \
                 machine only (its tokens are signed with a public key): use 127.0.0.1 or drop --dev"
            ));
        }

        let metrics_bind_addr = var("METRICS_BIND_ADDR")
            .filter(|v| !v.trim().is_empty())
            .and_then(|addr| match addr.trim().parse::<SocketAddr>() {
                Ok(parsed) if parsed == bind_addr && parsed.port() != 0 => {
                    problems.push(format!(
                        "METRICS_BIND_ADDR {parsed} is BIND_ADDR: metrics are served on a \
                         listener of their own, never the public one"
                    ));
                    None
                }
                Ok(parsed) if dev && !parsed.ip().is_loopback() => {
                    problems.push(format!(
                        "METRICS_BIND_ADDR {parsed} is not a loopback address, but --dev listens \
                         on this machine only: use 127.0.0.1 or drop --dev"
                    ));
                    None
                }
                Ok(parsed) => Some(parsed),
                Err(_) => {
                    problems.push(format!(
                        "METRICS_BIND_ADDR {addr:?} is not an address like 127.0.0.1:9090"
                    ));
                    None
                }
            });

        let api_base = var("WECHAT_API_BASE")
            .filter(|_| !dev)
            .unwrap_or_else(|| DEFAULT_API_BASE.to_owned());
        if let Some(host) = api_base.strip_prefix("http://") {
            // The app secret travels in the request: in clear only to this machine.
            if !is_loopback_host(host) {
                problems.push(format!(
                    "WECHAT_API_BASE {api_base:?} is plain http to another machine, which would \
                     send the app secret in clear: use https://, or http:// to a loopback address"
                ));
            }
        } else if !api_base.starts_with("https://") {
            problems.push(format!(
                "WECHAT_API_BASE {api_base:?} must start with https:// (or http:// to a loopback address)"
            ));
        }

        if !problems.is_empty() {
            return Err(problems);
        }
        let apps = apps
            .into_iter()
            .map(|app| {
                let mut wechat =
                    WeChatConfig::new(app.appid, app.secret).with_api_base(api_base.clone());
                wechat.timeout = Duration::from_secs(timeout_secs.unsigned_abs());
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
            session_cache_ms: session_cache_ms.unsigned_abs(),
            session_cache_feed_secs: session_cache_feed_secs.unsigned_abs(),
            session_cache_capacity: usize::try_from(session_cache_capacity).unwrap_or(0),
            session_purge_secs,
            database_url,
            database_listen_url,
            db_pool_size: u32::try_from(db_pool_size).unwrap_or(DEFAULT_POOL_SIZE),
            bind_addr,
            metrics_bind_addr,
            login_rate_limit: u32::try_from(login_rate_limit).unwrap_or(0),
            trusted_proxies,
            user_rate_limit: u32::try_from(user_rate_limit).unwrap_or(0),
            code_replay_secs,
            max_body_bytes: usize::try_from(max_body_bytes).unwrap_or(64 * 1024),
            workers: usize::try_from(workers).unwrap_or(2),
        })
    }
}

/// Whether the host of `host_and_path` (`host[:port][/path]`) is this machine.
fn is_loopback_host(host_and_path: &str) -> bool {
    let authority = host_and_path
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    if authority.contains('@') {
        return false;
    }
    let host = if let Some(rest) = authority.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        authority
            .rsplit_once(':')
            .map_or(authority, |(host, _)| host)
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The apps outside dev mode: `WECHAT_APPID` and `WECHAT_SECRET`, or `WECHAT_APPS_FILE`.
fn apps_from_env(
    var: &impl Fn(&str) -> Option<String>,
    problems: &mut Vec<String>,
) -> Vec<AppSettings> {
    let (appid, secret, file) = (
        var("WECHAT_APPID"),
        var("WECHAT_SECRET"),
        var("WECHAT_APPS_FILE"),
    );
    if let Some(path) = file {
        for name in [
            "WECHAT_APPID",
            "WECHAT_SECRET",
            "WECHAT_PUSH_TOKEN",
            "WECHAT_PUSH_AES_KEY",
        ] {
            if var(name).is_some() {
                problems.push(format!(
                    "{name} is set together with WECHAT_APPS_FILE: give every app, and its push \
                     settings, in the file"
                ));
            }
        }
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) => {
                problems.push(format!("WECHAT_APPS_FILE {path} cannot be read: {e}"));
                return Vec::new();
            }
        };
        return parse_apps_file(&path, &text).unwrap_or_else(|file_problems| {
            problems.extend(file_problems);
            Vec::new()
        });
    }
    let appid = appid.unwrap_or_else(|| {
        problems.push(
            "WECHAT_APPID is required (the mini program's appid), or WECHAT_APPS_FILE for \
             several, or run with --dev"
                .into(),
        );
        String::new()
    });
    if !appid.is_empty() && !is_plausible_appid(&appid) {
        problems.push("WECHAT_APPID must be the mini program's appid (letters and digits)".into());
    }
    let secret = secret.unwrap_or_else(|| {
        problems.push(
            "WECHAT_SECRET is required (the mini program's app secret), or run with --dev".into(),
        );
        String::new()
    });
    let push = push_settings(
        var("WECHAT_PUSH_TOKEN"),
        var("WECHAT_PUSH_AES_KEY"),
        "WECHAT_PUSH_TOKEN",
        "WECHAT_PUSH_AES_KEY",
        problems,
    );
    vec![AppSettings {
        appid,
        secret: AppSecret::new(secret),
        push,
    }]
}

fn number(
    var: &impl Fn(&str) -> Option<String>,
    problems: &mut Vec<String>,
    name: &str,
    default: i64,
    min: i64,
    max: i64,
) -> i64 {
    let Some(raw) = var(name) else { return default };
    match raw.trim().parse::<i64>() {
        Ok(n) if (min..=max).contains(&n) => n,
        _ => {
            problems.push(format!(
                "{name} {raw:?} must be a whole number from {min} to {max}"
            ));
            default
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(dev: bool, vars: &[(&str, &str)]) -> Result<Config, Vec<String>> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_env(dev, |name| vars.get(name).cloned())
    }

    const GOOD: [(&str, &str); 3] = [
        ("WECHAT_APPID", "wx4f4bc4dec97d474b"),
        ("WECHAT_SECRET", "real-secret"),
        ("TOKEN_SECRET", "0123456789abcdef0123456789abcdef"),
    ];

    #[test]
    fn production_needs_credentials_and_a_token_secret_and_names_each_missing_one() {
        let problems = read(false, &[]).expect_err("refused");
        for name in ["WECHAT_APPID", "WECHAT_SECRET", "TOKEN_SECRET"] {
            assert!(
                problems.iter().any(|p| p.starts_with(name)),
                "{name} in {problems:?}"
            );
        }
    }

    #[test]
    fn a_short_token_secret_is_refused() {
        let mut vars = GOOD.to_vec();
        vars[2] = ("TOKEN_SECRET", "too-short");
        let problems = read(false, &vars).expect_err("refused");
        assert_eq!(
            problems,
            ["TOKEN_SECRET is 9 bytes long; at least 32 are required"]
        );
    }

    #[test]
    fn defaults_are_documented_values() {
        let config = read(false, &GOOD).expect("valid");
        assert_eq!(config.session_ttl_secs, 604_800);
        assert_eq!(config.session_cache_ms, 1000);
        assert_eq!(config.session_cache_capacity, 4096);
        assert_eq!(config.session_purge_secs, 86_400);
        assert_eq!(config.database_url, "sqlite://wxlogin.db");
        assert_eq!(config.bind_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(config.login_rate_limit, 60);
        assert_eq!(config.user_rate_limit, 10);
        assert_eq!(config.code_replay_secs, 10);
        assert_eq!(config.max_body_bytes, 65_536);
        assert_eq!(config.apps.len(), 1);
        assert_eq!(config.apps[0].wechat.api_base, "https://api.weixin.qq.com");
        assert!(config.apps[0].push.is_none());
        assert!(!config.dev);
    }

    #[cfg(feature = "dev")]
    #[test]
    fn dev_mode_needs_nothing_and_refuses_every_production_setting() {
        let config = read(true, &[]).expect("valid");
        assert_eq!(config.apps.len(), 1);
        assert_eq!(config.apps[0].wechat.appid, DEV_APPIDS[0]);
        let several = read(true, &[("DEV_APPS", "3")]).expect("valid");
        assert_eq!(
            several
                .apps
                .iter()
                .map(|a| a.wechat.appid.as_str())
                .collect::<Vec<_>>(),
            DEV_APPIDS
        );
        assert!(read(true, &[("DEV_APPS", "4")]).is_err());
        for name in PRODUCTION_ONLY {
            let problems =
                read(true, &[(name, "0123456789abcdef0123456789abcdef")]).expect_err("refused");
            assert_eq!(problems.len(), 1, "{problems:?}");
            assert!(
                problems[0].starts_with(&format!("{name} is set, but --dev")),
                "{problems:?}"
            );
            assert!(!problems[0].contains("0123456789abcdef"), "{problems:?}");
        }
    }

    #[cfg(not(feature = "dev"))]
    #[test]
    fn without_the_dev_feature_dev_mode_is_refused() {
        let problems = read(true, &[]).expect_err("refused");
        assert!(
            problems[0].starts_with("--dev is not available"),
            "{problems:?}"
        );
    }

    #[test]
    fn bad_numbers_and_urls_name_their_variable() {
        let mut vars = GOOD.to_vec();
        vars.extend([
            ("SESSION_TTL_SECS", "0"),
            ("SESSION_CACHE_MS", "600000"),
            ("SESSION_CACHE_CAPACITY", "-1"),
            ("LOGIN_RATE_LIMIT", "many"),
            ("DATABASE_URL", "mysql://x"),
            ("BIND_ADDR", "localhost"),
            ("WECHAT_API_BASE", "ftp://x"),
        ]);
        let problems = read(false, &vars).expect_err("refused");
        for name in [
            "SESSION_TTL_SECS",
            "SESSION_CACHE_MS",
            "SESSION_CACHE_CAPACITY",
            "LOGIN_RATE_LIMIT",
            "DATABASE_URL",
            "BIND_ADDR",
            "WECHAT_API_BASE",
        ] {
            assert!(
                problems.iter().any(|p| p.starts_with(name)),
                "{name} in {problems:?}"
            );
        }
    }

    #[test]
    fn the_sealing_secret_defaults_to_the_token_secret_and_short_ones_are_refused() {
        let config = read(false, &GOOD).expect("valid");
        assert_eq!(config.sealing_secret.expose(), config.token_secret.expose());
        assert!(config.previous_sealing_secret.is_none());

        let mut vars = GOOD.to_vec();
        vars.push(("SESSION_KEY_SECRET", "another secret of thirty-two bytes!"));
        vars.push((
            "SESSION_KEY_SECRET_PREVIOUS",
            "0123456789abcdef0123456789abcdef",
        ));
        let rotated = read(false, &vars).expect("valid");
        assert_eq!(
            rotated.sealing_secret.expose(),
            b"another secret of thirty-two bytes!"
        );
        assert!(rotated.previous_sealing_secret.is_some());

        let mut vars = GOOD.to_vec();
        vars.push(("SESSION_KEY_SECRET", "short"));
        vars.push(("SESSION_KEY_SECRET_PREVIOUS", "short"));
        let problems = read(false, &vars).expect_err("refused");
        assert_eq!(
            problems,
            [
                "SESSION_KEY_SECRET is 5 bytes long; at least 32 are required",
                "SESSION_KEY_SECRET_PREVIOUS is 5 bytes long; at least 32 are required"
            ]
        );
    }

    #[test]
    fn several_apps_come_from_a_file_and_never_with_wechat_appid_too() {
        let path =
            std::env::temp_dir().join(format!("wxlogin-test-apps-{}.toml", std::process::id()));
        struct Remove(std::path::PathBuf);
        impl Drop for Remove {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
        let _remove = Remove(path.clone());
        std::fs::write(
            &path,
            "[[app]]\nappid = \"wxaaaa\"\nsecret = \"sa\"\n[[app]]\nappid = \"wxbbbb\"\nsecret = \"sb\"\n",
        )
        .expect("written");
        let file = path.display().to_string();
        let token = ("TOKEN_SECRET", "0123456789abcdef0123456789abcdef");
        let config = read(false, &[("WECHAT_APPS_FILE", file.as_str()), token]).expect("valid");
        assert_eq!(
            config
                .apps
                .iter()
                .map(|a| a.wechat.appid.as_str())
                .collect::<Vec<_>>(),
            ["wxaaaa", "wxbbbb"]
        );
        let problems = read(
            false,
            &[
                ("WECHAT_APPS_FILE", file.as_str()),
                ("WECHAT_APPID", "wx1"),
                token,
            ],
        )
        .expect_err("refused");
        assert!(
            problems[0].starts_with("WECHAT_APPID is set together with WECHAT_APPS_FILE"),
            "{problems:?}"
        );
        let missing =
            read(false, &[("WECHAT_APPS_FILE", "/no/such/apps.toml"), token]).expect_err("refused");
        assert!(
            missing[0].starts_with("WECHAT_APPS_FILE /no/such/apps.toml cannot be read"),
            "{missing:?}"
        );
    }

    #[test]
    fn push_settings_of_the_single_app_are_checked() {
        let mut vars = GOOD.to_vec();
        vars.push(("WECHAT_PUSH_AES_KEY", "too-short"));
        let problems = read(false, &vars).expect_err("refused");
        assert_eq!(
            problems,
            ["WECHAT_PUSH_AES_KEY is set without WECHAT_PUSH_TOKEN"]
        );
        vars.push(("WECHAT_PUSH_TOKEN", "tok3n"));
        let problems = read(false, &vars).expect_err("refused");
        assert!(
            problems[0].starts_with("WECHAT_PUSH_AES_KEY must be 43 characters"),
            "{problems:?}"
        );
    }

    #[test]
    fn the_change_feed_may_listen_on_a_connection_of_its_own() {
        let with = |vars: &[(&'static str, &'static str)]| {
            let mut all = GOOD.to_vec();
            all.extend_from_slice(vars);
            read(false, &all)
        };
        assert_eq!(with(&[]).expect("valid").database_listen_url, None);
        let direct = with(&[
            ("DATABASE_URL", "postgres://u@pgbouncer:6432/db"),
            ("DATABASE_LISTEN_URL", "postgres://u:secret@db:5432/db"),
        ])
        .expect("valid");
        assert_eq!(
            direct.database_listen_url.map(|url| url.to_string()),
            Some("postgres://<credentials>@db:5432/db".to_owned()),
            "kept, and shown without its password"
        );
        for (database, listen) in [
            ("sqlite://x.db", "postgres://u@db/db"),
            ("postgres://u@db/db", "sqlite://x.db"),
            ("postgres://u@db/db", "mysql://db"),
        ] {
            let problems = with(&[("DATABASE_URL", database), ("DATABASE_LISTEN_URL", listen)])
                .expect_err("refused");
            assert!(
                problems[0].starts_with("DATABASE_LISTEN_URL"),
                "{problems:?}"
            );
            assert!(!problems[0].contains("secret"));
        }
    }

    #[test]
    fn metrics_listen_apart_from_the_api_and_only_when_asked() {
        assert_eq!(read(false, &GOOD).expect("valid").metrics_bind_addr, None);
        let with = |addr: &'static str| {
            let mut vars = GOOD.to_vec();
            vars.push(("METRICS_BIND_ADDR", addr));
            read(false, &vars)
        };
        assert_eq!(
            with("127.0.0.1:9090").expect("valid").metrics_bind_addr,
            Some("127.0.0.1:9090".parse().expect("address"))
        );
        let problems = with("127.0.0.1:8080").expect_err("the public listener");
        assert!(problems[0].contains("is BIND_ADDR"), "{problems:?}");
        let problems = with("metrics").expect_err("not an address");
        assert!(
            problems[0].starts_with("METRICS_BIND_ADDR \"metrics\""),
            "{problems:?}"
        );
    }

    #[cfg(feature = "dev")]
    #[test]
    fn dev_mode_listens_on_loopback_only_and_uses_sqlite_only() {
        let problems = read(true, &[("BIND_ADDR", "0.0.0.0:8080")]).expect_err("refused");
        assert!(
            problems[0].starts_with("BIND_ADDR 0.0.0.0:8080 is not a loopback"),
            "{problems:?}"
        );
        assert!(read(true, &[("BIND_ADDR", "[::1]:8080")]).is_ok());
        let problems = read(true, &[("METRICS_BIND_ADDR", "0.0.0.0:9090")]).expect_err("refused");
        assert!(
            problems[0].starts_with("METRICS_BIND_ADDR 0.0.0.0:9090 is not a loopback"),
            "{problems:?}"
        );
        let problems = read(true, &[("DATABASE_URL", "postgres://u@h/db")]).expect_err("refused");
        assert!(
            problems[0].starts_with("DATABASE_URL is a PostgreSQL database"),
            "{problems:?}"
        );
    }

    #[test]
    fn plain_http_to_wechat_is_refused_unless_it_stays_on_this_machine() {
        for refused in [
            "http://api.weixin.qq.com",
            "http://10.0.0.5:8080",
            "http://127.0.0.1.example.com",
            "http://user@127.0.0.1",
            "ftp://x",
        ] {
            let mut vars = GOOD.to_vec();
            vars.push(("WECHAT_API_BASE", refused));
            let problems = read(false, &vars).expect_err("refused");
            assert!(
                problems[0].starts_with("WECHAT_API_BASE"),
                "{refused}: {problems:?}"
            );
        }
        for accepted in [
            "https://api.weixin.qq.com",
            "http://127.0.0.1:9800",
            "http://localhost:9800/",
            "http://[::1]:9800",
        ] {
            let mut vars = GOOD.to_vec();
            vars.push(("WECHAT_API_BASE", accepted));
            assert!(read(false, &vars).is_ok(), "{accepted}");
        }
    }

    #[test]
    fn trusted_proxies_are_addresses_or_cidr_blocks() {
        let mut vars = GOOD.to_vec();
        vars.push(("TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.7,fd00::/8"));
        assert_eq!(read(false, &vars).expect("valid").trusted_proxies.len(), 3);
        let mut vars = GOOD.to_vec();
        vars.push(("TRUSTED_PROXIES", "10.0.0.0/8,proxy.internal"));
        let problems = read(false, &vars).expect_err("refused");
        assert!(
            problems[0].starts_with("TRUSTED_PROXIES: \"proxy.internal\""),
            "{problems:?}"
        );
        assert!(
            read(false, &GOOD)
                .expect("valid")
                .trusted_proxies
                .is_empty(),
            "none by default"
        );
    }

    #[test]
    fn debug_output_hides_the_secrets() {
        let shown = format!("{:?}", read(false, &GOOD).expect("valid"));
        assert!(
            !shown.contains("real-secret") && !shown.contains("0123456789abcdef"),
            "{shown}"
        );
    }
}
