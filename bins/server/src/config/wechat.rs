//! The mini programs served and how WeChat is reached: `WECHAT_APPID` and `WECHAT_SECRET`, or
//! `WECHAT_APPS_FILE`, or the fake's apps in dev mode; `WECHAT_API_BASE`, `WECHAT_TIMEOUT_SECS`.

use wxlogin_domain::AppSecret;
#[cfg(feature = "dev")]
use wxlogin_fake_wechat::{DEV_APPIDS, DEV_SECRET};
use wxlogin_wechat_client::{DEFAULT_API_BASE, WeChatConfig};

use super::vars::Vars;
use crate::apps::{AppSettings, is_plausible_appid, parse_apps_file, push_settings};

/// Without the `dev` feature there is no fake to talk to; `--dev` is refused before these
/// would be used.
#[cfg(not(feature = "dev"))]
const DEV_APPIDS: [&str; 3] = ["", "", ""];
#[cfg(not(feature = "dev"))]
const DEV_SECRET: &str = "";

/// The production settings `--dev` refuses: dev mode talks to a fake, and a real secret
/// given to it would sign or seal with a value meant for production.
pub(super) const PRODUCTION_ONLY: [&str; 9] = [
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
fn dev_push_settings() -> Option<wxlogin_wechat_client::PushSettings> {
    wxlogin_wechat_client::PushSettings::new(
        wxlogin_fake_wechat::DEV_PUSH_TOKEN,
        Some(wxlogin_fake_wechat::DEV_PUSH_AES_KEY),
    )
    .ok()
}

#[cfg(not(feature = "dev"))]
fn dev_push_settings() -> Option<wxlogin_wechat_client::PushSettings> {
    None
}

/// How many of the fake's apps dev mode may serve (`DEV_APPS`).
const MAX_DEV_APPS: usize = 3;

/// The apps: in dev mode the fake's (refusing every production setting), else from the
/// environment.
pub(super) fn apps(dev: bool, vars: &mut Vars<'_>) -> Vec<AppSettings> {
    if !dev {
        return apps_from_env(vars);
    }
    if !cfg!(feature = "dev") {
        vars.problem(
            "--dev is not available: this wxlogin-server was built without the `dev` \
             feature, so the fake WeChat is not in it",
        );
    }
    for name in PRODUCTION_ONLY {
        if vars.get(name).is_some() {
            vars.problem(format!(
                "{name} is set, but --dev talks to a fake WeChat and never runs with \
                 production settings: unset {name} or drop --dev"
            ));
        }
    }
    let count = vars.number("DEV_APPS", 1, 1..=MAX_DEV_APPS);
    DEV_APPIDS
        .iter()
        .take(count)
        .map(|appid| AppSettings {
            appid: (*appid).to_owned(),
            secret: AppSecret::new(DEV_SECRET),
            push: dev_push_settings(),
        })
        .collect()
}

/// The apps outside dev mode: `WECHAT_APPID` and `WECHAT_SECRET`, or `WECHAT_APPS_FILE`.
fn apps_from_env(vars: &mut Vars<'_>) -> Vec<AppSettings> {
    let (appid, secret, file) = (
        vars.get("WECHAT_APPID"),
        vars.get("WECHAT_SECRET"),
        vars.get("WECHAT_APPS_FILE"),
    );
    if let Some(path) = file {
        for name in [
            "WECHAT_APPID",
            "WECHAT_SECRET",
            "WECHAT_PUSH_TOKEN",
            "WECHAT_PUSH_AES_KEY",
        ] {
            if vars.get(name).is_some() {
                vars.problem(format!(
                    "{name} is set together with WECHAT_APPS_FILE: give every app, and its push \
                     settings, in the file"
                ));
            }
        }
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) => {
                vars.problem(format!("WECHAT_APPS_FILE {path} cannot be read: {e}"));
                return Vec::new();
            }
        };
        return parse_apps_file(&path, &text).unwrap_or_else(|file_problems| {
            for problem in file_problems {
                vars.problem(problem);
            }
            Vec::new()
        });
    }
    let appid = appid.unwrap_or_else(|| {
        vars.problem(
            "WECHAT_APPID is required (the mini program's appid), or WECHAT_APPS_FILE for \
             several, or run with --dev",
        );
        String::new()
    });
    if !appid.is_empty() && !is_plausible_appid(&appid) {
        vars.problem("WECHAT_APPID must be the mini program's appid (letters and digits)");
    }
    let secret = secret.unwrap_or_else(|| {
        vars.problem(
            "WECHAT_SECRET is required (the mini program's app secret), or run with --dev",
        );
        String::new()
    });
    let mut problems = Vec::new();
    let push = push_settings(
        vars.get("WECHAT_PUSH_TOKEN"),
        vars.get("WECHAT_PUSH_AES_KEY"),
        "WECHAT_PUSH_TOKEN",
        "WECHAT_PUSH_AES_KEY",
        &mut problems,
    );
    for problem in problems {
        vars.problem(problem);
    }
    vec![AppSettings {
        appid,
        secret: AppSecret::new(secret),
        push,
    }]
}

/// How long a WeChat call may take when `WECHAT_TIMEOUT_SECS` is not set: the client's own
/// default.
pub(super) fn default_timeout_secs() -> u64 {
    WeChatConfig::new(String::new(), AppSecret::new(String::new()))
        .timeout
        .as_secs()
}

/// `WECHAT_API_BASE`: https, or http to this machine only (the app secret travels in the
/// request); WeChat's own in dev mode too (the fake's address replaces it at start-up).
pub(super) fn api_base(dev: bool, vars: &mut Vars<'_>) -> String {
    let api_base = vars
        .get("WECHAT_API_BASE")
        .filter(|_| !dev)
        .unwrap_or_else(|| DEFAULT_API_BASE.to_owned());
    if let Some(host) = api_base.strip_prefix("http://") {
        // The app secret travels in the request: in clear only to this machine.
        if !is_loopback_host(host) {
            vars.problem(format!(
                "WECHAT_API_BASE {api_base:?} is plain http to another machine, which would \
                 send the app secret in clear: use https://, or http:// to a loopback address"
            ));
        }
    } else if !api_base.starts_with("https://") {
        vars.problem(format!(
            "WECHAT_API_BASE {api_base:?} must start with https:// (or http:// to a loopback address)"
        ));
    }
    api_base
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
