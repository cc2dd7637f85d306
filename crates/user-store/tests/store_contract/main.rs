//! One contract, run against real SQLite and real PostgreSQL.
//!
//! One module per part of the store. Each names its cases in `contract!`, which runs every
//! case against a fresh SQLite file and, when one answers, a fresh PostgreSQL database: the
//! cases before its `;` are given an opened store, those after it the test database.

macro_rules! contract {
    ($($case:ident),* ; $($on_db:ident),* $(,)?) => {
        mod sqlite {
            use super::*;
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() { let db = TestDatabase::sqlite(); super::$case(&open(&db).await).await; })*
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $on_db() { super::$on_db(&TestDatabase::sqlite()).await; })*
        }
        mod postgres {
            use super::*;
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() { if let Some(db) = TestDatabase::postgres() { super::$case(&open(&db).await).await; } })*
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $on_db() { if let Some(db) = TestDatabase::postgres() { super::$on_db(&db).await; } })*
        }
    };
}

mod access_tokens;
mod audit;
mod change_feed;
mod deletion;
mod limits;
mod logins;
mod media;
mod merges;
mod persistence;
mod pool;
mod profiles;
mod sealing;
mod sessions;
mod sqlite_lock;
mod support;
mod tokens;
mod webhooks;
