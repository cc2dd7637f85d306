//! Pooled PostgreSQL connections that the database drops: a connection in steady use is not
//! checked before each call (that check was a round trip per login), so a drop shows as one
//! failed call, after which every connection is checked again and the store recovers; a
//! connection left idle is checked, so a drop while idle costs no call at all.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use wxlogin_domain::UserStore;
use wxlogin_user_store::testing::{TestDatabase, test_sealer};
use wxlogin_user_store::{DieselStore, PoolOptions};

async fn open(db: &TestDatabase, check_idle_after: Duration) -> DieselStore {
    let options = PoolOptions {
        max_size: 2,
        connection_timeout: Duration::from_secs(5),
        check_idle_after,
        listen_url: None,
    };
    DieselStore::open(db.url(), &options, test_sealer())
        .await
        .expect("the test database opens")
        .0
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Ends every other backend connected to the test database, and waits until they are gone.
fn drop_connections(db: &TestDatabase) {
    let mut admin = PgConnection::establish(db.url()).expect("connects");
    diesel::sql_query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .execute(&mut admin)
    .expect("terminates");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let others = diesel::sql_query(
            "SELECT count(*) AS n FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .get_result::<Count>(&mut admin)
        .expect("counts")
        .n;
        if others == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "{others} backends still there");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_dropped_while_in_use_cost_one_call_then_are_replaced() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    // Trusted for a minute after use, however slow the machine is between the two calls.
    let store = open(&db, Duration::from_secs(60)).await;
    assert_eq!(store.find_user("nobody").await.expect("works"), None);
    drop_connections(&db);

    // The connection went back to the pool a moment ago: used without a check, it fails.
    let first = store.find_user("nobody").await;
    assert!(first.is_err(), "{first:?}");
    // From then on every connection is checked before use: the dead ones are replaced.
    for _ in 0..4 {
        assert_eq!(store.find_user("nobody").await.expect("recovered"), None);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_dropped_while_idle_cost_no_call() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    let store = open(&db, Duration::from_millis(100)).await;
    assert_eq!(store.find_user("nobody").await.expect("works"), None);
    // Longer than a connection is trusted after use.
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop_connections(&db);

    for _ in 0..4 {
        assert_eq!(
            store.find_user("nobody").await.expect("checked first"),
            None
        );
    }
}
