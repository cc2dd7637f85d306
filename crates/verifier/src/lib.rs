#![doc = include_str!("../README.md")]

mod claims;
mod config;
mod error;
mod follower;
mod http;
mod jwks;
mod key_cache;
mod revocations;
mod verifier;

pub use claims::Claims;
pub use config::VerifierConfig;
pub use error::{ConfigError, FetchError, VerifyError};
pub use follower::RevocationFollower;
pub use verifier::Verifier;
