#![doc = include_str!("../README.md")]

mod business;
mod code2session;
mod config;
mod error;
#[cfg(feature = "awc-client")]
mod http;
mod open_data;
mod secret;

pub use business::{
    PhoneInfo, STALE_SESSION_KEY, StableToken, check_session_url, parse_check_session,
    parse_phone_number, parse_stable_token, phone_number_request, stable_token_request,
};
pub use code2session::{WeChatSession, code2session_url, parse_code2session};
pub use config::{DEFAULT_API_BASE, WeChatConfig};
pub use error::WeChatError;
#[cfg(feature = "awc-client")]
pub use http::HttpWeChatClient;
pub use open_data::{OpenDataError, decrypt_open_data, session_signature, verify_raw_data};
pub use secret::{AccessToken, AppSecret, OpenId, SessionKey, UnionId};

/// The WeChat server API, as the login use case sees it.
///
/// The futures are not required to be `Send`, because the actix client (`awc`) is not; an
/// implementation on a `Send` client works as well.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait WeChatApi {
    /// Exchanges a `wx.login` code for the user's openid and session_key (`auth.code2Session`).
    #[allow(async_fn_in_trait)]
    async fn code2session(&self, code: &str) -> Result<WeChatSession, WeChatError>;

    /// Fetches the app's access token from `stable_token`. Normal mode (`force_refresh` false)
    /// hands every caller the same token while it is valid; forcing invalidates it for all.
    #[allow(async_fn_in_trait)]
    async fn stable_token(&self, force_refresh: bool) -> Result<StableToken, WeChatError>;

    /// Exchanges a `getPhoneNumber` code for the user's phone number.
    #[allow(async_fn_in_trait)]
    async fn phone_number(
        &self,
        access_token: &AccessToken,
        code: &str,
    ) -> Result<PhoneInfo, WeChatError>;

    /// Whether `session_key` is still the user's current one (`wxa/checksession`).
    #[allow(async_fn_in_trait)]
    async fn check_session(
        &self,
        access_token: &AccessToken,
        openid: &OpenId,
        session_key: &SessionKey,
    ) -> Result<bool, WeChatError>;

    /// The appid of the mini program this client speaks for.
    fn appid(&self) -> &str;
}
