#![doc = include_str!("../README.md")]

mod avatar;
mod decode;
mod encode;
mod error;
mod flatten;
mod limits;
mod process;
mod scale;
mod sniff;
mod truncation;

pub use avatar::Avatar;
pub use error::AvatarError;
pub use limits::AvatarLimits;
pub use process::process_avatar;
pub use sniff::sniff;
