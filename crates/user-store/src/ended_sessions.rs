//! The ends of sessions, for the revocation feed: recorded in the transaction that ends them,
//! stamped by the database's clock (one order for every instance's ends), read by time, purged
//! once no token of theirs can live.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use wxlogin_domain::{EndedSession, Revocations};

use crate::connection::AnyConnection;
use crate::database::Database;
use crate::error::DbResult;
use crate::schema::ended_sessions;

/// The database's clock in milliseconds, in each dialect.
const PG_NOW_MS: &str = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";
const SQLITE_NOW_MS: &str = "CAST(unixepoch('subsec') * 1000 AS INTEGER)";

fn now_ms_sql(conn: &AnyConnection) -> &'static str {
    match conn {
        AnyConnection::Postgresql(_) => PG_NOW_MS,
        AnyConnection::Sqlite(_) => SQLITE_NOW_MS,
    }
}

#[derive(QueryableByName)]
struct Now {
    #[diesel(sql_type = BigInt)]
    now_ms: i64,
}

/// Records in the caller's transaction that session `id` ended now.
pub(crate) fn record_end(conn: &mut AnyConnection, id: &str) -> DbResult<()> {
    let sql = format!(
        "INSERT INTO ended_sessions (session_id, ended_at_ms) VALUES ($1, {})",
        now_ms_sql(conn)
    );
    let sql = match conn {
        AnyConnection::Postgresql(_) => sql,
        AnyConnection::Sqlite(_) => sql.replace("$1", "?"),
    };
    diesel::sql_query(sql).bind::<Text, _>(id).execute(conn)?;
    Ok(())
}

impl Database {
    pub(crate) fn ended_sessions_since(&self, since_ms: i64) -> DbResult<Revocations> {
        let mut conn = self.conn()?;
        // The clock first: an end committed after it is found by the next question.
        let now = diesel::sql_query(format!("SELECT {} AS now_ms", now_ms_sql(&conn)))
            .get_result::<Now>(&mut *conn)?;
        let ended = ended_sessions::table
            .filter(ended_sessions::ended_at_ms.ge(since_ms))
            .order(ended_sessions::ended_at_ms.asc())
            .select((ended_sessions::session_id, ended_sessions::ended_at_ms))
            .load::<(String, i64)>(&mut *conn)?
            .into_iter()
            .map(|(session_id, ended_at_ms)| EndedSession {
                session_id,
                ended_at_ms,
            })
            .collect();
        Ok(Revocations {
            ended,
            now_ms: now.now_ms,
        })
    }

    pub(crate) fn purge_ended_sessions_before(&self, before_ms: i64) -> DbResult<usize> {
        Ok(diesel::delete(ended_sessions::table)
            .filter(ended_sessions::ended_at_ms.lt(before_ms))
            .execute(&mut *self.writer()?)?)
    }
}
