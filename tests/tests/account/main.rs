//! Logout everywhere, account deletion and WeChat's authorization events over HTTP, on SQLite
//! and PostgreSQL.
//!
//! One module per part; each names its cases in `on_both_databases!`.

mod deletion;
mod instances;
mod logout_everywhere;
mod push_refusals;
mod pushes;
mod support;
