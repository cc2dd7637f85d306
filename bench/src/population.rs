//! Fills a fresh database with users, in bulk, so that cost can be compared across table sizes.

use anyhow::Context;
use diesel::{Connection, PgConnection, RunQueryDsl, SqliteConnection};
use wxlogin_fake_wechat::DEV_APPID;
use wxlogin_user_store::testing::test_sealer;
use wxlogin_user_store::{DieselStore, PoolOptions};

/// Applies the migrations and inserts `users` users (`bench-<n>`), each with one identity in the
/// dev app and one live session.
pub fn populate(url: &str, users: u64) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .context("a runtime for the store")?
        .block_on(DieselStore::open(
            url,
            &PoolOptions::default(),
            test_sealer(),
        ))
        .context("opening and migrating the bench database")?;
    let far = 4_000_000_000_i64;
    let users_sql = "INSERT INTO users (id, nick_name, created_at, updated_at) \
         SELECT 'bench-' || i, 'user ' || i, 0, 0 FROM numbers";
    let identities_sql = format!(
        "INSERT INTO identities (appid, openid, user_id, created_at) \
         SELECT '{DEV_APPID}', 'bench-openid-' || i, 'bench-' || i, 0 FROM numbers"
    );
    let sessions_sql = format!(
        "INSERT INTO sessions (id, user_id, appid, session_key, created_at, expires_at) \
         SELECT 'bench-session-' || i, 'bench-' || i, '{DEV_APPID}', '', 0, {far} FROM numbers"
    );
    if let Some(path) = url.strip_prefix("sqlite://") {
        let mut conn = SqliteConnection::establish(path)?;
        let numbers = format!(
            "WITH RECURSIVE numbers(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM numbers WHERE i < {users}) "
        );
        conn.transaction(|conn| -> diesel::QueryResult<()> {
            diesel::sql_query(format!("{numbers}{users_sql}")).execute(conn)?;
            diesel::sql_query(format!("{numbers}{identities_sql}")).execute(conn)?;
            diesel::sql_query(format!("{numbers}{sessions_sql}")).execute(conn)?;
            Ok(())
        })?;
    } else {
        let mut conn = PgConnection::establish(url)?;
        let numbers = format!("WITH numbers AS (SELECT generate_series(1, {users}) AS i) ");
        conn.transaction(|conn| -> diesel::QueryResult<()> {
            diesel::sql_query(format!("{numbers}{users_sql}")).execute(conn)?;
            diesel::sql_query(format!("{numbers}{identities_sql}")).execute(conn)?;
            diesel::sql_query(format!("{numbers}{sessions_sql}")).execute(conn)?;
            diesel::sql_query("ANALYZE").execute(conn)?;
            Ok(())
        })?;
    }
    Ok(())
}

/// What the `sessions` table holds: live sessions (not ended, not expired), all rows, and on
/// its size with its indexes.
pub struct SessionsHeld {
    pub live: u64,
    pub rows: u64,
    pub bytes: Option<u64>,
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Counts the sessions of the database at `url` (SQLite or PostgreSQL).
pub fn sessions_held(url: &str) -> anyhow::Result<SessionsHeld> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let live_sql = format!(
        "SELECT COUNT(*) AS n FROM sessions WHERE revoked_at IS NULL AND expires_at > {now}"
    );
    let rows_sql = "SELECT COUNT(*) AS n FROM sessions";
    let count = |rows: Vec<Count>| rows.first().map_or(0, |c| u64::try_from(c.n).unwrap_or(0));
    if let Some(path) = url.strip_prefix("sqlite://") {
        let mut conn = SqliteConnection::establish(path)?;
        Ok(SessionsHeld {
            live: count(diesel::sql_query(live_sql).load(&mut conn)?),
            rows: count(diesel::sql_query(rows_sql).load(&mut conn)?),
            // dbstat is compiled into the bundled SQLite; without it, no size.
            bytes: diesel::sql_query(
                "SELECT CAST(SUM(pgsize) AS BIGINT) AS n FROM dbstat WHERE name IN \
                 (SELECT name FROM sqlite_master WHERE tbl_name = 'sessions')",
            )
            .load(&mut conn)
            .ok()
            .map(count),
        })
    } else {
        let mut conn = PgConnection::establish(url)?;
        Ok(SessionsHeld {
            live: count(diesel::sql_query(live_sql).load(&mut conn)?),
            rows: count(diesel::sql_query(rows_sql).load(&mut conn)?),
            bytes: Some(count(
                diesel::sql_query("SELECT pg_total_relation_size('sessions') AS n")
                    .load(&mut conn)?,
            )),
        })
    }
}

#[cfg(test)]
mod tests {
    use wxlogin_domain::UserStore;
    use wxlogin_user_store::testing::TestDatabase;

    use super::*;

    /// The bulk SQL follows the schema the migrations make: a user found through the store
    /// with its identity and session.
    #[test]
    fn a_population_is_what_the_store_reads() {
        let db = TestDatabase::sqlite();
        populate(db.url(), 10).expect("populated");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let store =
            DieselStore::connect(db.url(), &PoolOptions::default(), test_sealer()).expect("store");
        let user = runtime
            .block_on(store.find_user("bench-7"))
            .expect("query")
            .expect("populated user");
        assert_eq!(user.apps, [DEV_APPID]);
        assert_eq!(user.nick_name.as_deref(), Some("user 7"));
        let held = sessions_held(db.url()).expect("counted");
        assert_eq!((held.live, held.rows), (10, 10));
    }
}
