#![doc = include_str!("../README.md")]

mod access_tokens;
mod accounts;
mod audit;
mod changes;
mod connection;
mod database;
mod database_url;
mod deletion;
mod ended_sessions;
mod error;
mod first_login;
mod group_commit;
mod legacy;
mod limit_batches;
mod limits;
mod login_codes;
mod logins;
mod media_files;
mod media_objects;
mod media_ports;
mod migrations;
mod operators;
mod outbox;
mod outbox_port;
mod ports;
mod prepared;
mod profiles;
mod refresh;
mod schema;
mod sealing;
mod sessions;
mod signing_keys;
mod store;
#[cfg(feature = "test-support")]
pub mod testing;
mod users;

pub use connection::{CHECK_IDLE_AFTER, DEFAULT_POOL_SIZE, PoolOptions};
pub use database_url::DatabaseUrl;
pub use limits::SharedRateLimits;
pub use sealing::{MIN_SECRET_LEN, SealError, SealingSecret, SecretSealer};
pub use store::{DieselStore, PoolState};

/// The old name of [`DieselStore`], which implements every store port, not only `UserStore`.
#[deprecated(note = "renamed to DieselStore: it implements every store port")]
pub type DieselUserStore = DieselStore;

/// The old name of [`SecretSealer`], which seals access tokens as well as session keys.
#[deprecated(note = "renamed to SecretSealer: it seals access tokens as well as session keys")]
pub type SessionKeySealer = SecretSealer;
