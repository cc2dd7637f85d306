//! The WeChat server API, as the use cases see it.

use async_trait::async_trait;

use crate::{AccessToken, Cause, OpenId, SessionKey, UnionId};

/// What a successful `code2session` gives: who the user is, and the key to their open data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeChatSession {
    /// The user's id within this mini program.
    pub openid: OpenId,
    /// The key for this user's open data; replaced by WeChat when the user logs in again.
    pub session_key: SessionKey,
    /// Present only when the mini program is bound to an Open Platform account.
    pub unionid: Option<UnionId>,
}

/// An access token as `stable_token` hands it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StableToken {
    /// The token.
    pub access_token: AccessToken,
    /// Seconds it stays valid from the moment WeChat answered (at most 7200).
    pub expires_in: i64,
}

/// A user's phone number, from a `getPhoneNumber` code. Personal data: `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct PhoneInfo {
    /// The number as WeChat gives it, with the country code outside mainland China.
    pub phone_number: String,
    /// The number without country code.
    pub pure_phone_number: String,
    /// The country code, as text (WeChat sends it as a string or as a number).
    pub country_code: String,
}

impl std::fmt::Debug for PhoneInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhoneInfo")
            .field("country_code", &self.country_code)
            .finish_non_exhaustive()
    }
}

/// What WeChat's content security advises about a text or an image (`result.suggest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suggest {
    /// Nothing found.
    Pass,
    /// Unsure: a person should look. wxlogin lets it through and counts it.
    Review,
    /// Found: refuse it (a nickname) or take it down (an avatar).
    Risky,
}

/// A content check's verdict: WeChat's advice and its label (100 normal, 20002 porn, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentVerdict {
    /// What to do.
    pub suggest: Suggest,
    /// Why, as WeChat numbers it.
    pub label: i64,
}

/// Why a WeChat call failed, classified so callers branch on kinds, never on messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeChatError {
    /// `40029`: the code is not valid (malformed, expired, or for another app).
    #[error("WeChat rejected the code as invalid (40029)")]
    InvalidCode,
    /// `40163`: the code was already exchanged.
    #[error("WeChat says the code was already used (40163)")]
    CodeUsed,
    /// `45011`: the user's per-minute quota is reached.
    #[error("WeChat rate limit reached (45011)")]
    RateLimited,
    /// `40226`: WeChat blocks this user as high risk.
    #[error("WeChat flags the user as high risk (40226)")]
    RiskyUser,
    /// `-1`: WeChat is busy, and stayed busy through the retries.
    #[error("WeChat is busy (-1)")]
    Busy,
    /// `40013` (appid) or `40125` (secret): our own credentials are wrong.
    #[error("WeChat refused our credentials ({errcode})")]
    BadCredentials {
        /// The errcode WeChat sent.
        errcode: i64,
    },
    /// `40001`, `40014` or `42001`: the access token used is invalid or expired. Fetch a new
    /// one and try once more.
    #[error("WeChat refused the access token ({errcode})")]
    AccessTokenInvalid {
        /// The errcode WeChat sent.
        errcode: i64,
    },
    /// `45009`: a daily API quota is used up. Not transient: never retried.
    #[error("WeChat daily quota exhausted (45009)")]
    QuotaExhausted,
    /// Any other errcode, kept as WeChat sent it.
    #[error("WeChat error {errcode}: {errmsg}")]
    Api {
        /// The errcode WeChat sent.
        errcode: i64,
        /// WeChat's message, for logs only.
        errmsg: String,
    },
    /// The reply was not JSON, or lacked the fields a success must have.
    #[error("WeChat sent an unexpected reply")]
    InvalidResponse(#[source] Cause),
    /// The request never reached WeChat (no connection could be made): safe to try again.
    #[error("WeChat could not be reached")]
    Unreachable(#[source] Cause),
    /// The request may have reached WeChat, but no usable answer came back (an HTTP error
    /// status, a reply lost mid-body). Not retried: WeChat may have used the code.
    #[error("WeChat failed to answer")]
    Unavailable(#[source] Cause),
    /// WeChat did not answer in time. Not retried: WeChat may have used the code.
    #[error("WeChat did not answer in time")]
    Timeout,
}

impl WeChatError {
    /// The error an `errcode` stands for (`0` is not an error and is not passed here).
    pub fn from_errcode(errcode: i64, errmsg: &str) -> Self {
        match errcode {
            40029 => Self::InvalidCode,
            40163 => Self::CodeUsed,
            45011 => Self::RateLimited,
            40226 => Self::RiskyUser,
            -1 => Self::Busy,
            40013 | 40125 => Self::BadCredentials { errcode },
            40001 | 40014 | 42001 => Self::AccessTokenInvalid { errcode },
            45009 => Self::QuotaExhausted,
            _ => Self::Api {
                errcode,
                errmsg: errmsg.to_owned(),
            },
        }
    }

    /// Whether trying again is safe and may help: only when WeChat said it was busy or the
    /// request never reached it. A timeout, an HTTP error or a reply lost mid-body may follow a
    /// request WeChat acted on, and a `wx.login` code is good once.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Busy | Self::Unreachable(_))
    }
}

/// The WeChat server API of one mini program.
///
/// Futures are `Send` and implementors `Send + Sync`, so one client serves every thread of a
/// multi-threaded runtime.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait WeChatApi: Send + Sync {
    /// Exchanges a `wx.login` code for the user's openid and session_key (`auth.code2Session`).
    async fn code2session(&self, code: &str) -> Result<WeChatSession, WeChatError>;

    /// Fetches the app's access token from `stable_token`. Normal mode (`force_refresh` false)
    /// hands every caller the same token while it is valid; forcing invalidates it for all.
    async fn stable_token(&self, force_refresh: bool) -> Result<StableToken, WeChatError>;

    /// Exchanges a `getPhoneNumber` code for the user's phone number.
    async fn phone_number(
        &self,
        access_token: &AccessToken,
        code: &str,
    ) -> Result<PhoneInfo, WeChatError>;

    /// Whether `session_key` is still the user's current one (`wxa/checksession`).
    async fn check_session(
        &self,
        access_token: &AccessToken,
        openid: &OpenId,
        session_key: &SessionKey,
    ) -> Result<bool, WeChatError>;

    /// Checks a text the user wrote (`wxa/msg_sec_check`, version 2, scene 1: a profile) in
    /// the name of `openid`. errcode 0 only means the check ran: the verdict is in it.
    async fn msg_sec_check(
        &self,
        access_token: &AccessToken,
        openid: &OpenId,
        content: &str,
    ) -> Result<ContentVerdict, WeChatError>;

    /// Asks WeChat to check the image at `media_url` (`wxa/media_check_async`, version 2,
    /// scene 1); the verdict comes later as a `wxa_media_check` push. Answers the check's
    /// `trace_id`, which the push carries.
    async fn media_check_async(
        &self,
        access_token: &AccessToken,
        openid: &OpenId,
        media_url: &str,
    ) -> Result<String, WeChatError>;

    /// The appid of the mini program this client speaks for.
    fn appid(&self) -> &str;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_busy_and_unreachable_are_retried() {
        assert!(WeChatError::Busy.is_retryable());
        assert!(WeChatError::Unreachable(Cause::msg("refused")).is_retryable());
        for not in [
            WeChatError::Timeout,
            WeChatError::Unavailable(Cause::msg("HTTP 502")),
            WeChatError::InvalidCode,
            WeChatError::CodeUsed,
            WeChatError::QuotaExhausted,
            WeChatError::InvalidResponse(Cause::msg("not JSON")),
        ] {
            assert!(!not.is_retryable(), "{not:?}");
        }
    }

    #[test]
    fn phone_info_debug_hides_the_number() {
        let info = PhoneInfo {
            phone_number: "13800138000".into(),
            pure_phone_number: "13800138000".into(),
            country_code: "86".into(),
        };
        assert!(!format!("{info:?}").contains("138"));
    }
}
