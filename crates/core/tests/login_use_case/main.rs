//! The login use case against mocks of its three boundaries.
//!
//! One module per part of the use case; the mocks and the values they answer with are in
//! `support`.

mod apps;
mod authentication;
mod avatars;
mod building;
mod code_replay;
mod deletion;
mod login;
mod logout;
mod profile;
mod refresh;
mod session_cache;
mod support;
mod user_rate_limit;
