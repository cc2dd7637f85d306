//! The operators' side over HTTP (contract v3): the admin listener and its keys, bans that hold
//! on every instance within a second, sessions listed and ended, deletion, the command line,
//! and an audit log that records every kind of change and holds no secret. On SQLite and
//! PostgreSQL; the second instance on PostgreSQL only (one process serves a SQLite file).
//!
//! One module per part; each names its cases in `on_both_databases!`.

mod audit;
mod bans;
mod cli;
mod keys;
mod sessions;
mod support;
