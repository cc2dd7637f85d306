//! The digests of login codes, kept for the replay window only: recorded with the session a
//! login opens, found when a copy of the code reaches another instance, purged soon after.
//!
//! They have a table of their own rather than a column of `sessions`: asked for only within
//! `CODE_REPLAY_SECS` of a login, they would otherwise keep one random key per session ever
//! opened in an index as large as the sessions table, and every login would write a random
//! page of it (issue #21). Purged every few seconds once a minute past the replay window,
//! this table stays the size of about a minute of logins. A code's row belongs to its
//! session: a session purged or deleted with its account takes it along, in the same
//! transaction (not by a foreign key, whose check would cost every login a query).

use diesel::prelude::*;
use wxlogin_domain::{CodeLogin, Session};

use crate::connection::AnyConnection;
use crate::database::Database;
use crate::error::DbResult;
use crate::schema::{login_codes, sessions};
use crate::sessions::{SessionRow, ended_before};

/// What a login records besides its session: the digest of its code, and whether it found an
/// existing account.
pub(crate) struct LoginTrace<'a> {
    pub(crate) login_code: &'a str,
    pub(crate) user_existed: bool,
}

#[derive(Insertable)]
#[diesel(table_name = login_codes)]
struct LoginCodeRow<'a> {
    code: &'a str,
    session_id: &'a str,
    user_existed: bool,
    created_at: i64,
}

/// Records that `session_id`, opened at `created_at`, answered the code of `trace`, in the
/// caller's transaction (with the session, so neither is there without the other).
pub(crate) fn record_login_code(
    conn: &mut AnyConnection,
    trace: &LoginTrace<'_>,
    session_id: &str,
    created_at: i64,
) -> DbResult<()> {
    diesel::insert_into(login_codes::table)
        .values(LoginCodeRow {
            code: trace.login_code,
            session_id,
            user_existed: trace.user_existed,
            created_at,
        })
        .execute(conn)?;
    Ok(())
}

/// Forgets the codes of `user_id`'s sessions (in `appid` only, if given), in the caller's
/// transaction, before those sessions are deleted. A subquery rather than a list of ids: a
/// user may hold more sessions than SQLite takes bound values.
pub(crate) fn forget_login_codes_of(
    conn: &mut AnyConnection,
    user_id: &str,
    appid: Option<&str>,
) -> DbResult<()> {
    let of_user = sessions::table.filter(sessions::user_id.eq(user_id));
    match appid {
        Some(appid) => diesel::delete(
            login_codes::table.filter(
                login_codes::session_id.eq_any(
                    of_user
                        .filter(sessions::appid.eq(appid))
                        .select(sessions::id),
                ),
            ),
        )
        .execute(conn)?,
        None => diesel::delete(
            login_codes::table.filter(login_codes::session_id.eq_any(of_user.select(sessions::id))),
        )
        .execute(conn)?,
    };
    Ok(())
}

/// Forgets the codes of the sessions that ended before `before`, in the caller's transaction,
/// before those sessions are purged.
pub(crate) fn forget_login_codes_ended_before(
    conn: &mut AnyConnection,
    before: i64,
) -> DbResult<()> {
    let ended = sessions::table
        .filter(ended_before(before))
        .select(sessions::id);
    diesel::delete(login_codes::table.filter(login_codes::session_id.eq_any(ended)))
        .execute(conn)?;
    Ok(())
}

impl Database {
    /// The first login `login_code` opened at or after `since`, with its session (expired and
    /// revoked ones included: the caller decides).
    pub(crate) fn find_login_by_code(
        &self,
        login_code: &str,
        since: i64,
    ) -> DbResult<Option<CodeLogin>> {
        let found: Option<(SessionRow, bool)> = login_codes::table
            .inner_join(sessions::table)
            .filter(login_codes::code.eq(login_code))
            .filter(login_codes::created_at.ge(since))
            .order(login_codes::created_at.asc())
            .select((SessionRow::as_select(), login_codes::user_existed))
            .first(&mut *self.conn()?)
            .optional()?;
        Ok(found.map(|(row, user_existed)| CodeLogin {
            session: Session::from(row),
            user_existed,
        }))
    }

    /// Deletes the codes recorded before `before`, and says how many.
    pub(crate) fn purge_login_codes(&self, before: i64) -> DbResult<usize> {
        Ok(diesel::delete(login_codes::table)
            .filter(login_codes::created_at.lt(before))
            .execute(&mut *self.writer()?)?)
    }
}
