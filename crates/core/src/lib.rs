#![doc = include_str!("../README.md")]

mod access_token_cache;
mod cache;
mod content_checks;
mod deployment_limits;
mod error;
mod exchange;
mod limits;
mod media;
mod profile;
mod quota_pauses;
mod seen_pushes;
mod service;
mod settings;
mod verified_tokens;

pub use cache::CacheStats;
pub use content_checks::{ContentCheckSettings, ContentCheckStats};
pub use deployment_limits::DeploymentLimits;
pub use error::{CoreError, ErrorKind};
pub use media::MediaSettings;
pub use profile::{MAX_AVATAR_URL_CHARS, MAX_NICK_NAME_CHARS, ProfileEdit};
pub use service::access_token::AccessTokenFetches;
pub use service::builder::{BuildError, LoginServiceBuilder};
pub use service::login::{LoginOutcome, MAX_CODE_LEN};
pub use service::operators::{AUDIT_PURGE_BATCH, AdminService, Operator};
pub use service::push::{PUSH_TIMESTAMP_WINDOW_SECS, PushEffect, PushQuery};
pub use service::refresh::RefreshOutcome;
pub use service::revocations::{MAX_REVOCATION_WAIT, RevocationPage, RevokedSession};
pub use service::user_data::{NOT_THIS_USERS_DATA, UserInfoData};
pub use service::{Caller, LoginService};
pub use settings::{FEED_GRACE, LoginSettings};

/// The avatar limits of [`MediaSettings`], from `wxlogin-media`.
pub use wxlogin_media::AvatarLimits;
