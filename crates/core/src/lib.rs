#![doc = include_str!("../README.md")]

mod access_token;
mod cache;
mod error;
mod exchange;
mod limits;
mod profile;
mod push;
mod seen_pushes;
mod service;
mod user_data;

pub use access_token::AccessTokenFetches;
pub use cache::CacheStats;
pub use error::{CoreError, ErrorKind};
pub use profile::{MAX_AVATAR_URL_CHARS, MAX_NICK_NAME_CHARS, ProfileEdit};
pub use push::{PUSH_TIMESTAMP_WINDOW_SECS, PushEffect, PushQuery};
pub use service::{
    BuildError, Caller, FEED_GRACE, LoginOutcome, LoginService, LoginServiceBuilder, LoginSettings,
    MAX_CODE_LEN,
};
pub use user_data::{NOT_THIS_USERS_DATA, UserInfoData};
