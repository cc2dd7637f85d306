#![doc = include_str!("../README.md")]

pub use wxlogin_core::{
    AccessTokenFetches, BuildError, CacheStats, Caller, CoreError, ErrorKind, FEED_GRACE,
    LoginOutcome, LoginService, LoginServiceBuilder, LoginSettings, MAX_AVATAR_URL_CHARS,
    MAX_CODE_LEN, MAX_NICK_NAME_CHARS, NOT_THIS_USERS_DATA, PUSH_TIMESTAMP_WINDOW_SECS,
    ProfileEdit, PushEffect, PushQuery, RefreshOutcome, RevocationPage, RevokedSession,
    UserInfoData,
};
pub use wxlogin_domain::{
    AppSecret, Cause, Clock, ManualClock, StoreError, SystemClock, TokenError, User, WeChatError,
    error_chain,
};
pub use wxlogin_token::{
    JwtCodec, KeyPolicy, KeyRing, SignedTokens, SigningAlgorithm, TokenConfig,
};
pub use wxlogin_user_store::{
    DatabaseUrl, DieselStore, PoolOptions, PoolState, SealingSecret, SecretSealer,
};
pub use wxlogin_wechat_client::{HttpWeChatClient, PushSettings, WeChatConfig};

/// Each crate whole, for what the names above leave out (the ports, to write an adapter of
/// your own: [`crates::domain`]; the WeChat client and the protocol it re-exports:
/// [`crates::wechat_client`]). Named after the packages, without their `wxlogin_` prefix.
pub mod crates {
    pub use wxlogin_core as core;
    pub use wxlogin_domain as domain;
    pub use wxlogin_token as token;
    pub use wxlogin_user_store as user_store;
    pub use wxlogin_wechat_client as wechat_client;
}
