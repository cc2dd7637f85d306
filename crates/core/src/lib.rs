#![doc = include_str!("../README.md")]

mod access_token;
mod access_token_cache;
mod account;
mod authentication;
mod builder;
mod cache;
mod error;
mod exchange;
mod limits;
mod login;
mod profile;
mod push;
mod seen_pushes;
mod service;
mod settings;
mod user_data;

pub use access_token::AccessTokenFetches;
pub use builder::{BuildError, LoginServiceBuilder};
pub use cache::CacheStats;
pub use error::{CoreError, ErrorKind};
pub use login::{LoginOutcome, MAX_CODE_LEN};
pub use profile::{MAX_AVATAR_URL_CHARS, MAX_NICK_NAME_CHARS, ProfileEdit};
pub use push::{PUSH_TIMESTAMP_WINDOW_SECS, PushEffect, PushQuery};
pub use service::{Caller, LoginService};
pub use settings::{FEED_GRACE, LoginSettings};
pub use user_data::{NOT_THIS_USERS_DATA, UserInfoData};
