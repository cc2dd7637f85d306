#![doc = include_str!("../README.md")]

mod business;
mod code2session;
mod config;
mod open_data;
mod push;
mod push_body;
mod reply;

pub use business::{
    STALE_SESSION_KEY, check_session_url, parse_check_session, parse_phone_number,
    parse_stable_token, phone_number_request, stable_token_request,
};
pub use code2session::{code2session_url, parse_code2session};
pub use config::{DEFAULT_API_BASE, WeChatConfig};
pub use open_data::{OpenDataError, decrypt_open_data, session_signature, verify_raw_data};
pub use push::{ENCODING_AES_KEY_LEN, PushError, PushSettings};
pub use push_body::{MAX_PUSH_BYTES, PushFields, parse_push_body};
