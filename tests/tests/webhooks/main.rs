//! Webhooks over HTTP (contract v3, "Webhooks"): deliveries that a Standard Webhooks library we
//! did not write accepts, an outbox that loses nothing while the receiver is down or the server
//! is killed, one delivery per event across two instances, and deliveries given up, shown to
//! operators and sent again. On SQLite and PostgreSQL; two instances on PostgreSQL only (one
//! process serves a SQLite file).
//!
//! One module per part; each names its cases in `on_both_databases!`. `support` holds the
//! receiver the server delivers to, the files the server reads, and the calls the cases share.

mod crashes;
mod instances;
mod outages;
mod removed_endpoints;
mod signatures;
mod support;
