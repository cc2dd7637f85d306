//! The profile the way WeChat offers it today, over HTTP on SQLite and PostgreSQL: avatar
//! uploads (what is taken, what is refused, what survives of an image), the files behind them
//! (served, replaced, deleted), and WeChat's content security (nicknames, avatars, the
//! media-check push).
//!
//! One module per part; each names its cases in `on_both_databases!`.

mod avatars;
mod content_checks;
mod files;
mod images;
mod s3;
mod support;
