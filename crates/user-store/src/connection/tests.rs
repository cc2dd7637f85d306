//! Tests of the parent module, kept apart so that it reads as what it does.

use diesel::connection::{AnsiTransactionManager, TransactionManager};

use super::*;
use crate::testing::TestDatabase;

fn pool_on(db: &TestDatabase) -> r2d2::Pool<AnyConnectionManager> {
    let url = DatabaseUrl::parse(db.url()).expect("url");
    create_sqlite_file(&url).expect("file");
    r2d2::Pool::builder()
        .max_size(2)
        .min_idle(Some(0))
        .build(AnyConnectionManager {
            url,
            failures: Arc::default(),
            check_idle_after: CHECK_IDLE_AFTER,
        })
        .expect("pool")
}

/// Begins a transaction through diesel (as `Connection::transaction` does) and writes in
/// it, taking SQLite's write lock; the caller never commits.
fn write_without_commit(conn: &mut AnyConnection) {
    let AnyConnection::Sqlite(c) = conn else {
        unreachable!("a SQLite pool");
    };
    AnsiTransactionManager::begin_transaction(c).expect("begin");
    c.batch_execute("INSERT INTO t VALUES (1)").expect("insert");
}

fn rows(conn: &mut AnyConnection) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query("SELECT count(*) AS n FROM t")
        .get_result::<N>(conn)
        .expect("count")
        .n
}

/// A connection that comes back with its transaction open (a panic in a login writer, or a
/// bug) is closed, not pooled: its transaction is rolled back, and on SQLite the write lock
/// it held does not stop every later write.
#[test]
fn a_connection_returned_inside_a_transaction_is_closed_not_reused() {
    let db = TestDatabase::sqlite();
    let pool = pool_on(&db);
    pool.get()
        .expect("conn")
        .batch_execute("CREATE TABLE t (x INTEGER)")
        .expect("table");
    write_without_commit(&mut pool.get().expect("conn"));
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut conn = pool.get().expect("conn");
        write_without_commit(&mut conn);
        panic!("a writer dies mid-transaction");
    }));
    assert!(panicked.is_err());

    let mut conn = pool.get().expect("conn");
    conn.batch_execute("PRAGMA busy_timeout = 200")
        .expect("short wait");
    conn.batch_execute("INSERT INTO t VALUES (2)")
        .expect("the write lock was let go");
    assert_eq!(rows(&mut conn), 1, "the abandoned writes were rolled back");
    let mut again = pool.get().expect("conn");
    assert!(
        !in_transaction(&mut again),
        "no pooled connection carries a transaction"
    );
}
