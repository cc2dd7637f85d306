//! Helpers for the end-to-end tests: start the real server on a free port against the fake
//! WeChat and a throwaway database, and talk to it over real HTTP.
//!
//! Cargo compiles no `tests/` folder at the root of a virtual workspace, so the end-to-end
//! suite is this crate of its own (`cargo test -p wxlogin-e2e`).

mod app;
mod eventually;
mod reply;
mod requests;

pub use app::{Spawn, TOKEN_SECRET, TestApp};
pub use eventually::eventually;
pub use reply::{Reply, assert_error};
pub use requests::Login;

/// Runs each named `async fn(&TestDatabase)` of the calling test file as two tests: on a fresh
/// SQLite file, and on a fresh PostgreSQL database (skipped only where PostgreSQL may be, see
/// `wxlogin_user_store::testing`). The module using it must import `TestDatabase`.
#[macro_export]
macro_rules! on_both_databases {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[actix_rt::test] async fn $case() { super::$case(&super::TestDatabase::sqlite()).await; })*
        }
        mod postgres {
            $(#[actix_rt::test] async fn $case() {
                if let Some(db) = super::TestDatabase::postgres() { super::$case(&db).await; }
            })*
        }
    };
}
