//! Open data, phone numbers and the shared access token: the use case on a real database (SQLite
//! and PostgreSQL), with WeChat mocked.
//!
//! One module per kind of user data; each names its cases in `on_both_databases!`.

macro_rules! on_both_databases {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() { super::$case(super::World::on(super::TestDatabase::sqlite()).await).await; })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                if let Some(db) = super::TestDatabase::postgres() { super::$case(super::World::on(db).await).await; }
            })*
        }
    };
}

mod access_token;
mod open_data;
mod phone_number;
mod support;
