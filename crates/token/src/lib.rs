#![doc = include_str!("../README.md")]

mod jwt;

pub use jwt::{JwtCodec, MAX_CLOCK_SKEW_SECS, MIN_KEY_LEN, TokenConfig};

/// The old name of [`JwtCodec`], which verifies as well as issues.
#[deprecated(note = "renamed to JwtCodec: it verifies tokens as well as issuing them")]
pub type JwtIssuer<C> = JwtCodec<C>;
