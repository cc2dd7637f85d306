#![doc = include_str!("../README.md")]

mod http;

pub use http::HttpWeChatClient;
/// Everything of the protocol, so that a caller of the client needs this crate only.
pub use wxlogin_wechat_protocol::*;
