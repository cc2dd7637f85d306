//! The WeChat user data routes (`/api/me/userinfo`, `/api/me/phone`), idempotent login codes and
//! the shared access token, over real HTTP against the fake WeChat, on SQLite and PostgreSQL.
//!
//! One module per part; each names its cases in `on_both_databases!`.

mod access_token;
mod login_codes;
mod phone;
mod support;
mod user_info;
mod user_rate_limit;
