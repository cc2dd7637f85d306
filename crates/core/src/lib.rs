#![doc = include_str!("../README.md")]

mod error;
mod profile;
mod service;

pub use error::CoreError;
pub use profile::{MAX_AVATAR_URL_CHARS, MAX_NICK_NAME_CHARS, ProfileEdit};
pub use service::{Caller, LoginOutcome, LoginService, LoginSettings, MAX_CODE_LEN};
