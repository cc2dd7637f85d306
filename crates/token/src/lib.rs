#![doc = include_str!("../README.md")]

mod jwt;

pub use jwt::{JwtIssuer, MAX_CLOCK_SKEW_SECS, MIN_KEY_LEN, TokenConfig};
