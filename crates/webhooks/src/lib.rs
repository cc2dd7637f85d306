#![doc = include_str!("../README.md")]

mod backoff;
mod config;
mod dispatcher;
mod events;
mod sender;
mod signing;

pub use backoff::{GIVE_UP_AFTER, retry_delay};
pub use config::{ConfigError, Endpoint, load_endpoints, parse_endpoints};
pub use dispatcher::{
    DispatchStats, Dispatcher, LEASE_SECS, MOST_PER_ROUND, POLL_INTERVAL, SWEEP_INTERVAL,
};
pub use events::{EVENT_TYPES, is_event_type};
pub use sender::{BuildError, SendError, Sender};
pub use signing::{Secret, SecretError, sign};
