//! The HTTP contract, walked over real HTTP against the real server, on SQLite and PostgreSQL.
//!
//! One module per part of the contract; each names its cases in `on_both_databases!`.

mod answers;
mod database;
mod instances;
mod logins;
mod metrics;
mod profile;
mod sessions;
mod support;
mod tokens;
