#![doc = include_str!("../README.md")]

mod code2session;
mod config;
mod error;
#[cfg(feature = "awc-client")]
mod http;
mod open_data;
mod secret;

pub use code2session::{WeChatSession, code2session_url, parse_code2session};
pub use config::{DEFAULT_API_BASE, WeChatConfig};
pub use error::WeChatError;
#[cfg(feature = "awc-client")]
pub use http::HttpWeChatClient;
pub use open_data::{OpenDataError, decrypt_open_data, session_signature, verify_raw_data};
pub use secret::{AppSecret, OpenId, SessionKey, UnionId};

/// The WeChat server API, as the login use case sees it.
///
/// The futures are not required to be `Send`, because the actix client (`awc`) is not; an
/// implementation on a `Send` client works as well.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait WeChatApi {
    /// Exchanges a `wx.login` code for the user's openid and session_key (`auth.code2Session`).
    #[allow(async_fn_in_trait)]
    async fn code2session(&self, code: &str) -> Result<WeChatSession, WeChatError>;
}
