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

/// What WeChat's console calls the message-push ("消息推送") Token and EncodingAESKey of an app.
/// `Debug` shows neither.
#[derive(Clone)]
pub struct PushSettings {
    /// The Token: pushes are signed with it.
    pub token: String,
    /// The EncodingAESKey (43 characters), for safe mode; `None` for plain mode only.
    pub aes_key: Option<String>,
}

impl std::fmt::Debug for PushSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushSettings")
            .field("token", &"<redacted>")
            .field("aes_key", &self.aes_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The length of an EncodingAESKey: base64 of 32 bytes without its `=`.
const AES_KEY_LEN: usize = 43;

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
    if token.len() < 3 || token.len() > 32 || !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
        problems.push(format!(
            "{token_name} must be 3 to 32 letters and digits, as WeChat's console takes it"
        ));
    }
    if let Some(key) = &aes_key
        && !is_encoding_aes_key(key)
    {
        problems.push(format!(
            "{aes_key_name} must be {AES_KEY_LEN} characters of base64 (WeChat's EncodingAESKey)"
        ));
    }
    Some(PushSettings { token, aes_key })
}

/// WeChat's console makes the key from random letters and digits, so the unused low bits of its
/// last character are not zero: the decoder must allow them.
fn is_encoding_aes_key(key: &str) -> bool {
    use base64::Engine;
    use base64::engine::{GeneralPurpose, GeneralPurposeConfig};
    let lenient = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
    );
    key.len() == AES_KEY_LEN
        && lenient
            .decode(format!("{key}="))
            .is_ok_and(|b| b.len() == 32)
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
        assert_eq!(
            (push.token.as_str(), push.aes_key.as_deref()),
            ("tok3n", Some(KEY))
        );
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

    #[test]
    fn encoding_aes_keys_are_43_characters_of_base64() {
        assert!(is_encoding_aes_key(KEY));
        assert!(!is_encoding_aes_key(&KEY[..42]));
        assert!(!is_encoding_aes_key(&format!("{}!", &KEY[..42])));
    }
}
