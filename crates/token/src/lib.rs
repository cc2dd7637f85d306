#![doc = include_str!("../README.md")]

mod jwt;

pub use jwt::{JwtIssuer, MIN_KEY_LEN, TokenConfig};
