use wxlogin_domain::ProfileUpdate;

use crate::CoreError;

/// The longest nickname accepted, in characters (not bytes: Chinese and emoji count as one).
pub const MAX_NICK_NAME_CHARS: usize = 64;
/// The longest avatar URL accepted, in characters.
pub const MAX_AVATAR_URL_CHARS: usize = 1024;

/// A change a user makes to their own profile: `None` leaves a field, `Some(None)` clears it.
///
/// Only these fields: the phone number comes from WeChat alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileEdit {
    /// New nickname.
    pub nick_name: Option<Option<String>>,
    /// New avatar URL, `http` or `https`.
    pub avatar_url: Option<Option<String>>,
}

impl ProfileEdit {
    /// Checks the rules and turns it into a store update.
    pub fn validate(self) -> Result<ProfileUpdate, CoreError> {
        if let Some(Some(name)) = &self.nick_name {
            let chars = name.chars().count();
            if chars > MAX_NICK_NAME_CHARS {
                return Err(CoreError::InvalidProfile(format!(
                    "nickName is {chars} characters long; at most {MAX_NICK_NAME_CHARS} are allowed"
                )));
            }
            if name.chars().any(char::is_control) {
                return Err(CoreError::InvalidProfile(
                    "nickName contains control characters".into(),
                ));
            }
        }
        if let Some(Some(url)) = &self.avatar_url {
            let chars = url.chars().count();
            if chars > MAX_AVATAR_URL_CHARS {
                return Err(CoreError::InvalidProfile(format!(
                    "avatarUrl is {chars} characters long; at most {MAX_AVATAR_URL_CHARS} are allowed"
                )));
            }
            if !is_http_url(url) {
                return Err(CoreError::InvalidProfile(
                    "avatarUrl must be an http:// or https:// URL".into(),
                ));
            }
        }
        Ok(ProfileUpdate {
            nick_name: self.nick_name,
            avatar_url: self.avatar_url,
            ..ProfileUpdate::default()
        })
    }
}

fn is_http_url(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &url[8..]
    } else if lower.starts_with("http://") {
        &url[7..]
    } else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    !host.is_empty() && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nick(name: &str) -> ProfileEdit {
        ProfileEdit {
            nick_name: Some(Some(name.into())),
            ..ProfileEdit::default()
        }
    }

    fn avatar(url: &str) -> ProfileEdit {
        ProfileEdit {
            avatar_url: Some(Some(url.into())),
            ..ProfileEdit::default()
        }
    }

    #[test]
    fn a_nickname_of_64_characters_is_accepted_and_65_refused() {
        assert!(
            nick(&"龙".repeat(64)).validate().is_ok(),
            "64 Chinese characters is 192 bytes, still fine"
        );
        assert!(nick(&"🐼".repeat(64)).validate().is_ok());
        assert!(matches!(
            nick(&"a".repeat(65)).validate(),
            Err(CoreError::InvalidProfile(_))
        ));
    }

    #[test]
    fn a_nickname_with_control_characters_is_refused() {
        assert!(nick("bad\u{0}name").validate().is_err());
        assert!(nick("line\nbreak").validate().is_err());
    }

    #[test]
    fn only_http_and_https_avatar_urls_are_accepted() {
        for good in [
            "https://thirdwx.qlogo.cn/mmopen/vi_32/x/132",
            "http://a.b/c",
            "HTTPS://A.B",
        ] {
            assert!(avatar(good).validate().is_ok(), "{good}");
        }
        for bad in [
            "javascript:alert(1)",
            "ftp://a.b/c",
            "https://",
            "https:///path",
            "//a.b/c",
            "a.png",
            "https://a b",
        ] {
            assert!(
                matches!(avatar(bad).validate(), Err(CoreError::InvalidProfile(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn an_avatar_url_over_1024_characters_is_refused() {
        let url = format!("https://a.b/{}", "x".repeat(1024));
        assert!(matches!(
            avatar(&url).validate(),
            Err(CoreError::InvalidProfile(_))
        ));
    }

    #[test]
    fn clearing_fields_is_always_allowed_and_absent_fields_stay_absent() {
        let update = ProfileEdit {
            nick_name: Some(None),
            avatar_url: None,
        }
        .validate()
        .expect("valid");
        assert_eq!(update.nick_name, Some(None));
        assert_eq!(update.avatar_url, None);
        assert_eq!(update.phone_number, None, "never touched by a profile edit");
    }
}
