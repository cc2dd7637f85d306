#![doc = include_str!("../README.md")]

mod audit;
mod avatars;
mod cause;
mod clock;
mod hex;
mod keys;
mod limits;
mod media;
mod operators;
mod secret;
mod store;
mod token;
mod user;
mod webhooks;
mod wechat;

#[cfg(feature = "mock")]
pub use audit::MockAuditLog;
pub use audit::{Actor, Audit, AuditEntry, AuditKind, AuditLog, AuditQuery, client_addr};
pub use avatars::AvatarStore;
#[cfg(feature = "mock")]
pub use avatars::MockAvatarStore;
pub use cause::{Cause, error_chain};
pub use clock::{Clock, ManualClock, SystemClock};
pub use hex::to_hex;
#[cfg(feature = "mock")]
pub use keys::MockSigningKeyStore;
pub use keys::{SigningKeyStore, StoredSigningKey};
#[cfg(feature = "mock")]
pub use limits::MockSharedLimits;
pub use limits::SharedLimits;
#[cfg(feature = "mock")]
pub use media::MockMediaStore;
pub use media::{MediaError, MediaObject, MediaStore, is_media_name};
#[cfg(feature = "mock")]
pub use operators::MockOperatorStore;
pub use operators::{OperatorStore, SessionInfo};
pub use secret::{AccessToken, AppSecret, OpenId, PrivateKey, SessionKey, UnionId};
pub use store::{
    AccessTokenStore, ChangeFeed, ChangeHandler, SessionStore, StoreChange, StoreError,
    Subscription, UserStore,
};
#[cfg(feature = "mock")]
pub use store::{MockAccessTokenStore, MockSessionStore, MockUserStore};
#[cfg(feature = "mock")]
pub use token::MockTokenCodec;
pub use token::{RefreshClaim, SessionToken, TokenCodec, TokenError};
pub use user::{
    CodeLogin, Deletion, EndedSession, MergedAccount, NewLogin, OpenedLogin, ProfileUpdate,
    RefreshState, Revocations, Session, StoredAccessToken, User,
};
#[cfg(feature = "mock")]
pub use webhooks::MockWebhookOutbox;
pub use webhooks::{
    MOST_RETRIED_AT_ONCE, OutboxCounts, WEBHOOK_EVENT_TYPES, WebhookDelivery, WebhookEvent,
    WebhookOutbox, WebhookRoutes,
};
#[cfg(feature = "mock")]
pub use wechat::MockWeChatApi;
pub use wechat::{
    ContentVerdict, PhoneInfo, StableToken, Suggest, WeChatApi, WeChatError, WeChatSession,
};

/// Re-exported for implementors of the async ports: `#[wxlogin_domain::async_trait]`.
pub use async_trait::async_trait;
