//! The mini programs a deployment serves: one from `WECHAT_APPID`/`WECHAT_SECRET`, or several
//! from the TOML file `WECHAT_APPS_FILE`.

use serde::Deserialize;
use wxlogin_domain::AppSecret;

/// One mini program, as configured.
#[derive(Debug, Clone)]
pub struct AppSettings {
    /// Its appid.
    pub appid: String,
    /// Its app secret.
    pub secret: AppSecret,
    /// Its message-push settings, if WeChat's pushes are to be received for it.
    pub push: Option<PushSettings>,
}

pub use wxlogin_wechat_client::PushSettings;
use wxlogin_wechat_client::{ENCODING_AES_KEY_LEN as AES_KEY_LEN, PushError};

/// Checks push settings; the problems name `where` (a variable, or a file and line) and never
/// the values.
pub(crate) fn push_settings(
    token: Option<String>,
    aes_key: Option<String>,
    token_name: &str,
    aes_key_name: &str,
    problems: &mut Vec<String>,
) -> Option<PushSettings> {
    let Some(token) = token else {
        if aes_key.is_some() {
            problems.push(format!("{aes_key_name} is set without {token_name}"));
        }
        return None;
    };
    match PushSettings::new(&token, aes_key.as_deref()) {
        Ok(settings) => Some(settings),
        Err(PushError::BadToken) => {
            problems.push(format!(
                "{token_name} must be 3 to 32 letters and digits, as WeChat's console takes it"
            ));
            None
        }
        Err(_) => {
            problems.push(format!(
                "{aes_key_name} must be {AES_KEY_LEN} characters of base64 (WeChat's EncodingAESKey)"
            ));
            None
        }
    }
}

/// Whether `appid` can be a mini program's appid: what goes into URLs and the database.
pub(crate) fn is_plausible_appid(appid: &str) -> bool {
    (2..=32).contains(&appid.len()) && appid.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppsFile {
    #[serde(default)]
    app: Vec<toml::Spanned<AppEntry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppEntry {
    appid: String,
    secret: String,
    push_token: Option<String>,
    push_aes_key: Option<String>,
}

/// The apps of a `WECHAT_APPS_FILE` whose text is `text`; every problem names the file and,
/// where there is one, the line.
pub(crate) fn parse_apps_file(path: &str, text: &str) -> Result<Vec<AppSettings>, Vec<String>> {
    let at = |span: std::ops::Range<usize>| {
        let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
        format!("WECHAT_APPS_FILE {path}, line {line}")
    };
    let file: AppsFile = toml::from_str(text).map_err(|e| {
        let place = e
            .span()
            .map_or_else(|| format!("WECHAT_APPS_FILE {path}"), &at);
        vec![format!("{place}: {}", e.message().trim())]
    })?;
    if file.app.is_empty() {
        return Err(vec![format!(
            "WECHAT_APPS_FILE {path} lists no app: give one [[app]] table per mini program"
        )]);
    }
    let mut problems = Vec::new();
    let mut apps: Vec<AppSettings> = Vec::new();
    for entry in file.app {
        let place = at(entry.span());
        let entry = entry.into_inner();
        if !is_plausible_appid(&entry.appid) {
            problems.push(format!(
                "{place}: appid must be the mini program's appid (letters and digits)"
            ));
        }
        if entry.secret.trim().is_empty() {
            problems.push(format!("{place}: secret is empty"));
        }
        if apps.iter().any(|app| app.appid == entry.appid) {
            problems.push(format!("{place}: appid {} is listed twice", entry.appid));
        }
        let push = push_settings(
            entry.push_token,
            entry.push_aes_key,
            &format!("{place}: push_token"),
            &format!("{place}: push_aes_key"),
            &mut problems,
        );
        apps.push(AppSettings {
            appid: entry.appid,
            secret: AppSecret::new(entry.secret),
            push,
        });
    }
    if problems.is_empty() {
        Ok(apps)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

    #[test]
    fn a_file_of_two_apps_is_read_with_their_push_settings() {
        let text = format!(
            "[[app]]\nappid = \"wx1111111111111111\"\nsecret = \"s1\"\n\n[[app]]\nappid = \"wx2222222222222222\"\nsecret = \"s2\"\npush_token = \"tok3n\"\npush_aes_key = \"{KEY}\"\n"
        );
        let apps = parse_apps_file("apps.toml", &text).expect("valid");
        assert_eq!(apps.len(), 2);
        assert_eq!(apps[0].appid, "wx1111111111111111");
        assert!(apps[0].push.is_none());
        let push = apps[1].push.as_ref().expect("push settings");
        assert!(push.safe_mode());
        assert_eq!(push, &PushSettings::new("tok3n", Some(KEY)).expect("valid"));
        let shown = format!("{apps:?}");
        assert!(
            !shown.contains("s2") && !shown.contains("tok3n") && !shown.contains(KEY),
            "{shown}"
        );
    }

    #[test]
    fn every_problem_names_the_file_and_the_line() {
        let text = "[[app]]\nappid = \"wx1\"\nsecret = \"s\"\n\n[[app]]\nappid = \"wx1\"\nsecret = \"\"\npush_aes_key = \"short\"\n";
        let problems = parse_apps_file("apps.toml", text).expect_err("refused");
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("WECHAT_APPS_FILE apps.toml, line 5")
                    && p.contains("listed twice")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("secret is empty")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("push_aes_key is set without")),
            "{problems:?}"
        );
    }

    #[test]
    fn a_malformed_or_empty_file_is_refused_with_its_line() {
        let problems = parse_apps_file("apps.toml", "[[app]]\nappid = \"wx1\"\nsecret = \n")
            .expect_err("refused");
        assert!(
            problems[0].starts_with("WECHAT_APPS_FILE apps.toml, line 3"),
            "{problems:?}"
        );
        let problems = parse_apps_file(
            "apps.toml",
            "[[app]]\nappid = \"wx1\"\nsecret = \"s\"\ncolour = \"red\"\n",
        )
        .expect_err("refused");
        assert!(
            problems[0].contains("line 4") || problems[0].contains("colour"),
            "{problems:?}"
        );
        let problems = parse_apps_file("apps.toml", "# nothing\n").expect_err("refused");
        assert!(problems[0].contains("lists no app"), "{problems:?}");
    }
}
