#![doc = include_str!("../README.md")]

mod access_tokens;
mod accounts;
mod changes;
mod connection;
mod database;
mod deletion;
mod error;
mod group_commit;
mod legacy;
mod logins;
mod migrations;
mod ports;
mod prepared;
mod profiles;
mod schema;
mod sealing;
mod sessions;
mod store;
#[cfg(feature = "test-support")]
pub mod testing;
mod users;

pub use connection::{CHECK_IDLE_AFTER, DEFAULT_POOL_SIZE, DatabaseUrl, PoolOptions};
pub use sealing::{MIN_SECRET_LEN, SealError, SealingSecret, SessionKeySealer};
pub use store::{DieselUserStore, PoolState};
