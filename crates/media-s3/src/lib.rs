#![doc = include_str!("../README.md")]

mod classify;
mod content_type;
mod error;
mod location;
mod settings;
mod store;
#[cfg(feature = "test-support")]
pub mod testing;

pub use error::S3ConfigError;
pub use settings::{S3Secret, S3Settings, S3Timeouts};
pub use store::{CACHE_CONTROL, MAX_OBJECT_BYTES, S3MediaStore};
