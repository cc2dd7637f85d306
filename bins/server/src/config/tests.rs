//! The configuration's reading, variable by variable.

use std::collections::HashMap;

use super::wechat::PRODUCTION_ONLY;
use super::*;
#[cfg(feature = "dev")]
use wxlogin_fake_wechat::DEV_APPIDS;

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
    assert_eq!(config.session_cache_bytes, 32 * 1024 * 1024);
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
        ("SESSION_CACHE_MB", "0"),
        ("SESSION_CACHE_CAPACITY", "4096"),
        ("LOGIN_RATE_LIMIT", "many"),
        ("DATABASE_URL", "mysql://x"),
        ("BIND_ADDR", "localhost"),
        ("WECHAT_API_BASE", "ftp://x"),
    ]);
    let problems = read(false, &vars).expect_err("refused");
    for name in [
        "SESSION_TTL_SECS",
        "SESSION_CACHE_MS",
        "SESSION_CACHE_MB",
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
    let path = std::env::temp_dir().join(format!("wxlogin-test-apps-{}.toml", std::process::id()));
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
