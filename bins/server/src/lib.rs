//! `wxlogin-server`: the HTTP API of wxlogin (see `docs/api.md`), as a library so that tests
//! and other binaries can build and start it. The binary only reads the configuration, sets up
//! logging, and runs.

#![warn(missing_docs)]

pub mod admin;
pub mod admin_command;
pub mod apps;
pub mod auth;
pub mod client_addr;
pub mod config;
pub mod database;
pub mod error;
pub mod keys_command;
mod maintenance;
mod media_store;
pub mod metered_wechat;
pub mod metrics;
mod middleware;
pub mod openapi;
pub mod routes;
mod shared_limits;
mod signing_keys;
pub mod startup;
pub mod state;
mod webhooks;

pub use config::Config;
pub use startup::Application;
