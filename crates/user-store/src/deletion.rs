//! Deleting an account, or one identity of it, with everything attached (sessions, session_keys,
//! profile, phone number), under the locks every login of the person takes, and leaving nothing
//! of it on disk.

use diesel::prelude::*;
use wxlogin_domain::{Audit, Cause, Deletion, OpenId, StoreChange, StoreError, WebhookRoutes};

use crate::accounts::{advisory_lock, identity_key, unionid_key};
use crate::audit::write_entries;
use crate::changes::announce;
use crate::connection::AnyConnection;
use crate::database::Database;
use crate::error::{DbError, DbResult};
use crate::schema::{identities, users};
use crate::sessions::delete_sessions;
use crate::users::{UserRow, known_identity_row, owner_of_identity, row_by_id};

impl Database {
    pub(crate) fn delete_account(
        &self,
        user_id: &str,
        appid: &str,
        openid: &OpenId,
        audit: &Audit,
    ) -> DbResult<Option<Deletion>> {
        let mut conn = self.writer()?;
        let deleted = conn.transaction(|conn| {
            let mut target = user_id.to_owned();
            for _ in 0..MERGES_FOLLOWED {
                // The account, or where a merge took the caller's identity.
                let row = match row_by_id(conn, &target)? {
                    Some(row) => row,
                    None => match owner_of_identity(conn, appid, openid)? {
                        Some(owner) => match row_by_id(conn, &owner)? {
                            Some(row) => row,
                            None => return Ok(None),
                        },
                        None => return Ok(None),
                    },
                };
                lock_account(conn, &row)?;
                // Read again under the locks: a merge may have moved it meanwhile.
                if row_by_id(conn, &row.id)?.is_some() {
                    return delete_locked_account(
                        conn,
                        &row.id,
                        Some(appid),
                        audit,
                        self.webhooks.get(),
                    )
                    .map(Some);
                }
                target = row.id;
            }
            Err(DbError::Store(StoreError::Query(Cause::msg(
                "the account kept being merged while it was being deleted; nothing was deleted",
            ))))
        })?;
        if deleted.is_some() {
            erase_old_pages(&mut conn);
        }
        Ok(deleted)
    }

    pub(crate) fn delete_identity(
        &self,
        appid: &str,
        openid: &OpenId,
        existed_at: i64,
        audit: &Audit,
    ) -> DbResult<Option<Deletion>> {
        let mut conn = self.writer()?;
        let deleted = conn.transaction(|conn| {
            let Some(row) = known_identity_row(conn, appid, openid)? else {
                return Ok(None);
            };
            lock_account(conn, &row)?;
            let identity: Option<(String, i64)> = identities::table
                .filter(identities::appid.eq(appid))
                .filter(identities::openid.eq(openid.expose()))
                .select((identities::user_id, identities::created_at))
                .get_result(&mut *conn)
                .optional()?;
            let Some((user_id, _)) = identity
                .filter(|(owner, created_at)| *owner == row.id && *created_at <= existed_at)
            else {
                return Ok(None);
            };
            let others: i64 = identities::table
                .filter(identities::user_id.eq(&user_id))
                .count()
                .get_result(&mut *conn)?;
            if others <= 1 {
                return delete_locked_account(
                    conn,
                    &user_id,
                    Some(appid),
                    audit,
                    self.webhooks.get(),
                )
                .map(Some);
            }
            let ended = delete_sessions(conn, &user_id, Some(appid))?;
            diesel::delete(
                identities::table
                    .filter(identities::appid.eq(appid))
                    .filter(identities::openid.eq(openid.expose())),
            )
            .execute(&mut *conn)?;
            for change in std::iter::once(StoreChange::UserChanged(user_id.clone()))
                .chain(ended.iter().cloned().map(StoreChange::SessionEnded))
            {
                announce(conn, &change)?;
            }
            let entry = audit.entry(Some(&user_id), Some(appid), None, "identity deleted");
            write_entries(conn, self.webhooks.get(), &[entry])?;
            Ok(Some(Deletion {
                user_id,
                account_deleted: false,
                ended_sessions: ended,
            }))
        })?;
        if deleted.is_some() {
            erase_old_pages(&mut conn);
        }
        Ok(deleted)
    }
}

impl Database {
    /// Deletes account `user_id` as its owner's deletion does, found by id alone (an operator's
    /// deletion, which has no identity to follow through merges: a merged-away id is gone).
    pub(crate) fn delete_user(&self, user_id: &str, audit: &Audit) -> DbResult<Option<Deletion>> {
        let mut conn = self.writer()?;
        let deleted = conn.transaction(|conn| {
            let Some(row) = row_by_id(conn, user_id)? else {
                return Ok(None);
            };
            lock_account(conn, &row)?;
            if row_by_id(conn, &row.id)?.is_none() {
                return Ok(None);
            }
            delete_locked_account(conn, &row.id, None, audit, self.webhooks.get()).map(Some)
        })?;
        if deleted.is_some() {
            erase_old_pages(&mut conn);
        }
        Ok(deleted)
    }
}

/// On SQLite, after a deletion: the pages as they were before it (the person's rows) are still
/// in the write-ahead log and the main file until a checkpoint copies the zeroed pages over
/// them (`secure_delete` zeroes only the new versions). A checkpoint that truncates the log
/// does, now, on the deletion's own connection while it still holds the process's write turn:
/// the checkpoint resets the log, and a login's transaction of this process begun meanwhile
/// would fail as busy. It waits at most 100 ms for readers. Best effort: a reader holding an
/// old snapshot makes it stop short, and a later one finishes the job.
fn erase_old_pages(conn: &mut AnyConnection) {
    use diesel::connection::SimpleConnection;
    let AnyConnection::Sqlite(c) = conn else {
        return;
    };
    let checkpoint = c
        .batch_execute("PRAGMA busy_timeout = 100")
        .and_then(|()| c.batch_execute("PRAGMA wal_checkpoint(TRUNCATE)"));
    // Back to what `SQLITE_PRAGMAS` sets for every connection.
    let restored = c.batch_execute("PRAGMA busy_timeout = 5000");
    if let Err(e) = checkpoint.and(restored) {
        log::warn!("the checkpoint after a deletion failed: {e}");
    }
}

/// How many merges a deletion follows before it gives up (each needs a login of the person
/// between two statements of the deletion).
const MERGES_FOLLOWED: usize = 4;

/// The lock keys of every way a login can reach the account: its unionid and each identity,
/// sorted, so that a deletion takes them in the same order whoever else wants them.
fn account_keys(conn: &mut AnyConnection, row: &UserRow) -> DbResult<Vec<String>> {
    let identities: Vec<(String, String)> = identities::table
        .filter(identities::user_id.eq(&row.id))
        .select((identities::appid, identities::openid))
        .load(&mut *conn)?;
    let mut keys: Vec<String> = identities
        .iter()
        .map(|(appid, openid)| identity_key(appid, openid))
        .chain(row.unionid.as_deref().map(unionid_key))
        .collect();
    keys.sort();
    keys.dedup();
    Ok(keys)
}

/// On PostgreSQL, takes the lock of every way to the account, then its row for update: logins
/// of the person wait until the deletion commits, and a returning login's session insert
/// (which share-locks the row through its foreign key) either lands first and is deleted too,
/// or fails and is resolved again, finding nobody. The caller holds a transaction.
fn lock_account(conn: &mut AnyConnection, row: &UserRow) -> DbResult<()> {
    let keys = account_keys(conn, row)?;
    if let AnyConnection::Postgresql(c) = conn {
        for key in keys {
            advisory_lock(c, &key)?;
        }
        diesel::sql_query("SELECT id FROM users WHERE id = $1 FOR UPDATE")
            .bind::<diesel::sql_types::Text, _>(&row.id)
            .execute(c)?;
    }
    Ok(())
}

/// Deletes `user_id` with its identities and sessions, in the caller's transaction, after
/// [`lock_account`], and records `audit` (in `appid`, if the deletion came through one).
fn delete_locked_account(
    conn: &mut AnyConnection,
    user_id: &str,
    appid: Option<&str>,
    audit: &Audit,
    webhooks: Option<&WebhookRoutes>,
) -> DbResult<Deletion> {
    let ended = delete_sessions(conn, user_id, None)?;
    diesel::delete(identities::table.filter(identities::user_id.eq(user_id)))
        .execute(&mut *conn)?;
    diesel::delete(users::table.filter(users::id.eq(user_id))).execute(&mut *conn)?;
    for change in std::iter::once(StoreChange::UserChanged(user_id.to_owned()))
        .chain(ended.iter().cloned().map(StoreChange::SessionEnded))
    {
        announce(conn, &change)?;
    }
    write_entries(
        conn,
        webhooks,
        &[audit.entry(Some(user_id), appid, None, "account deleted")],
    )?;
    Ok(Deletion {
        user_id: user_id.to_owned(),
        account_deleted: true,
        ended_sessions: ended,
    })
}
