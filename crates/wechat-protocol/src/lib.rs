#![doc = include_str!("../README.md")]

mod business;
mod code2session;
mod config;
mod content_security;
mod media_check_push;
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
pub use content_security::{
    MSG_SEC_CHECK_MAX_CHARS, NO_LABEL, media_check_async_request, msg_sec_check_request,
    parse_media_check_async, parse_msg_sec_check,
};
pub use media_check_push::{
    MEDIA_CHECK_EVENT, MEDIA_UNDOWNLOADABLE, MediaCheckOutcome, MediaCheckResult,
};
pub use open_data::{OpenDataError, decrypt_open_data, session_signature, verify_raw_data};
pub use push::{ENCODING_AES_KEY_LEN, PushError, PushSettings};
pub use push_body::{MAX_PUSH_BYTES, PushFields, parse_push_body};
