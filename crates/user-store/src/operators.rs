//! Bans and the session list operators see: a ban marks the account and ends its sessions in
//! one transaction, announced to every instance, with its audit entry.

use diesel::prelude::*;
use wxlogin_domain::{Audit, SessionInfo, StoreChange};

use crate::audit::write_entries;
use crate::changes::announce;
use crate::connection::AnyConnection;
use crate::database::Database;
use crate::error::DbResult;
use crate::schema::{sessions, users};
use crate::sessions::{SessionRow, end_all_sessions};

/// The most sessions a listing answers (newest first): a bot's account can hold thousands.
const MOST_SESSIONS_LISTED: i64 = 500;

impl Database {
    pub(crate) fn ban(
        &self,
        user_id: &str,
        reason: &str,
        audit: &Audit,
    ) -> DbResult<Option<Vec<String>>> {
        self.writer()?.transaction(|conn| {
            lock_for_ban(conn, user_id)?;
            let account = users::table.filter(users::id.eq(user_id));
            let found = diesel::update(account)
                .set(users::disabled_reason.eq(reason))
                .execute(&mut *conn)?;
            if found == 0 {
                return Ok(None);
            }
            // A ban of a banned account keeps the time of the first.
            diesel::update(account.filter(users::disabled_at.is_null()))
                .set(users::disabled_at.eq(audit.at))
                .execute(&mut *conn)?;
            let ended = end_all_sessions(conn, user_id, audit.at)?;
            // Every cache forgets the account, sessions or not.
            announce(conn, &StoreChange::UserChanged(user_id.to_owned()))?;
            let outcome = format!("sessions ended: {}", ended.len());
            write_entries(
                conn,
                self.webhooks.get(),
                &[audit.entry(Some(user_id), None, None, &outcome)],
            )?;
            Ok(Some(ended))
        })
    }

    pub(crate) fn unban(&self, user_id: &str, audit: &Audit) -> DbResult<bool> {
        self.writer()?.transaction(|conn| {
            let found = diesel::update(users::table.filter(users::id.eq(user_id)))
                .set((
                    users::disabled_at.eq(None::<i64>),
                    users::disabled_reason.eq(None::<String>),
                ))
                .execute(&mut *conn)?;
            if found == 0 {
                return Ok(false);
            }
            announce(conn, &StoreChange::UserChanged(user_id.to_owned()))?;
            write_entries(
                conn,
                self.webhooks.get(),
                &[audit.entry(Some(user_id), None, None, "ok")],
            )?;
            Ok(true)
        })
    }

    pub(crate) fn sessions_of(&self, user_id: &str) -> DbResult<Vec<SessionInfo>> {
        let rows: Vec<(SessionRow, Option<i64>, Option<String>)> = sessions::table
            .filter(sessions::user_id.eq(user_id))
            .order((sessions::created_at.desc(), sessions::id.desc()))
            .limit(MOST_SESSIONS_LISTED)
            .select((
                SessionRow::as_select(),
                sessions::refreshed_at,
                sessions::client_addr,
            ))
            .load(&mut *self.conn()?)?;
        Ok(rows
            .into_iter()
            .map(|(row, refreshed_at, client_addr)| SessionInfo {
                session: row.into(),
                refreshed_at,
                client_addr,
            })
            .collect())
    }
}

/// On PostgreSQL, the account's row locked so that no login's session insert (which
/// share-locks it through its foreign key) is in flight while the ban ends the sessions: one
/// committed before is ended with the others. A login whose statement began before the ban yet
/// inserts after it is refused by every read that follows (authentication and refresh check
/// the account, not only the session).
fn lock_for_ban(conn: &mut AnyConnection, user_id: &str) -> DbResult<()> {
    if let AnyConnection::Postgresql(c) = conn {
        diesel::sql_query("SELECT id FROM users WHERE id = $1 FOR UPDATE")
            .bind::<diesel::sql_types::Text, _>(user_id)
            .execute(c)?;
    }
    Ok(())
}
