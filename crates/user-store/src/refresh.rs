//! Where a session's refresh tokens stand: read, and moved on by one compare-and-set (no table
//! of tokens). The compare-and-sets of many refreshes are committed together by a writer
//! thread, as logins are: a refresh is then one statement in a shared commit, where on its own
//! it was a commit (and, on PostgreSQL, a WAL flush) of its own.

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable, Text};
use wxlogin_domain::{Audit, Cause, RefreshState, Session, StoreError};

use crate::audit::write_entries;
use crate::connection::AnyConnection;
use crate::database::{Database, WriterGone};
use crate::error::{DbError, DbResult};
use crate::group_commit::serve_batches;
use crate::schema::{sessions, users};
use crate::sessions::SessionRow;

/// The most compare-and-sets one commit takes.
const MOST_PER_COMMIT: usize = 128;

/// A refresh waiting for the writer thread, and where its answer goes.
pub(crate) struct RefreshJob {
    pub(crate) id: String,
    pub(crate) counter: i64,
    /// Its time is the refresh's.
    pub(crate) audit: Audit,
    pub(crate) answer: tokio::sync::oneshot::Sender<Result<Option<Session>, StoreError>>,
}

impl Database {
    pub(crate) fn find_refresh_state(&self, id: &str) -> DbResult<Option<RefreshState>> {
        type Found = (
            SessionRow,
            i64,
            Option<i64>,
            Option<i64>,
            Option<String>,
            Option<i64>,
        );
        let found: Option<Found> = sessions::table
            .left_join(users::table)
            .filter(sessions::id.eq(id))
            .select((
                SessionRow::as_select(),
                sessions::refresh_counter,
                sessions::refreshed_at,
                sessions::prior_refreshed_at,
                users::id.nullable(),
                users::disabled_at.nullable(),
            ))
            .first(&mut *self.conn()?)
            .optional()?;
        Ok(found.map(
            |(row, counter, refreshed_at, prior_refreshed_at, account, disabled_at)| RefreshState {
                session: row.into(),
                counter,
                refreshed_at,
                prior_refreshed_at,
                // No account row (deleted): as refused as a banned one.
                user_disabled: account.is_none() || disabled_at.is_some(),
            },
        ))
    }

    /// The compare-and-sets of `batch` in one transaction, each answered with its session if
    /// it moved it on. Should the transaction fail, every one is answered with the failure
    /// (nothing moved on, unless the commit's answer was lost: a refresh then finds its token
    /// spent and is answered the current pair, as a retry would be).
    fn rotate_together(&self, batch: &[RefreshJob]) -> DbResult<Vec<Option<Session>>> {
        let mut conn = self.writer()?;
        if let AnyConnection::Postgresql(c) = &mut *conn {
            // One statement, the audit entries included: atomic on its own, without a
            // transaction's two more round trips.
            return rotate_batch_on_postgres(c, batch);
        }
        conn.transaction(|conn| {
            batch
                .iter()
                .map(|job| {
                    let moved = rotate(conn, &job.id, job.counter, job.audit.at)?;
                    if let Some(session) = &moved {
                        let entry = job.audit.entry(
                            Some(&session.user_id),
                            Some(&session.appid),
                            Some(&session.id),
                            "ok",
                        );
                        write_entries(conn, self.webhooks.get(), &[entry])?;
                    }
                    Ok(moved)
                })
                .collect()
        })
    }
}

/// Every compare-and-set of a batch in one statement, on PostgreSQL: one round trip to the
/// database for the batch, where a statement each was a round trip each on the writer's one
/// connection (which capped refreshes at one connection's pace). When one session is in the
/// batch twice, PostgreSQL updates its row once: the other finds it moved on, as it would in
/// the next batch.
const ROTATE_BATCH: &str = "\
    WITH moved AS (\
        UPDATE sessions AS s SET refresh_counter = s.refresh_counter + 1, \
            prior_refreshed_at = s.refreshed_at, refreshed_at = v.now \
        FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[]) \
            AS v(id, counter, now, client_addr) \
        WHERE s.id = v.id AND s.refresh_counter = v.counter \
            AND s.revoked_at IS NULL AND s.expires_at >= v.now \
        RETURNING s.id, s.user_id, s.appid, s.created_at, s.expires_at, s.revoked_at, \
            v.counter AS spent, v.now, v.client_addr), \
    audited AS (\
        INSERT INTO audit_log (at, kind, user_id, appid, session_id, client_addr, outcome, actor) \
        SELECT now, 'refresh', user_id, appid, id, client_addr, 'ok', 'user' FROM moved) \
    SELECT id, user_id, appid, created_at, expires_at, revoked_at, spent FROM moved";

#[derive(QueryableByName)]
struct Rotated {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    user_id: String,
    #[diesel(sql_type = Text)]
    appid: String,
    #[diesel(sql_type = BigInt)]
    created_at: i64,
    #[diesel(sql_type = BigInt)]
    expires_at: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    revoked_at: Option<i64>,
    #[diesel(sql_type = BigInt)]
    spent: i64,
}

fn rotate_batch_on_postgres(
    conn: &mut diesel::PgConnection,
    batch: &[RefreshJob],
) -> DbResult<Vec<Option<Session>>> {
    let ids: Vec<&str> = batch.iter().map(|job| job.id.as_str()).collect();
    let counters: Vec<i64> = batch.iter().map(|job| job.counter).collect();
    let nows: Vec<i64> = batch.iter().map(|job| job.audit.at).collect();
    let addrs: Vec<Option<&str>> = batch
        .iter()
        .map(|job| job.audit.client_addr.as_deref())
        .collect();
    let mut rotated: Vec<Option<Rotated>> = diesel::sql_query(ROTATE_BATCH)
        .bind::<Array<Text>, _>(ids)
        .bind::<Array<BigInt>, _>(counters)
        .bind::<Array<BigInt>, _>(nows)
        .bind::<Array<Nullable<Text>>, _>(addrs)
        .load::<Rotated>(conn)?
        .into_iter()
        .map(Some)
        .collect();
    // Each row answers the first job that spent that token; a second job for the same token
    // finds it moved on.
    Ok(batch
        .iter()
        .map(|job| {
            rotated
                .iter_mut()
                .find(|row| {
                    row.as_ref()
                        .is_some_and(|r| r.id == job.id && r.spent == job.counter)
                })
                .and_then(Option::take)
                .map(|r| Session {
                    id: r.id,
                    user_id: r.user_id,
                    appid: r.appid,
                    created_at: r.created_at,
                    expires_at: r.expires_at,
                    revoked_at: r.revoked_at,
                })
        })
        .collect())
}

/// One compare-and-set on the counter: of two refreshes of the same token, here or on another
/// instance, one moves it on and the other finds it moved.
fn rotate(conn: &mut AnyConnection, id: &str, counter: i64, now: i64) -> DbResult<Option<Session>> {
    Ok(diesel::update(sessions::table)
        .filter(sessions::id.eq(id))
        .filter(sessions::refresh_counter.eq(counter))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::expires_at.ge(now))
        .set((
            sessions::refresh_counter.eq(counter.saturating_add(1)),
            sessions::prior_refreshed_at.eq(sessions::refreshed_at),
            sessions::refreshed_at.eq(now),
        ))
        // Columns rather than `SessionRow::as_returning()`, which the multi-backend connection
        // does not take in a RETURNING clause.
        .returning((
            sessions::id,
            sessions::user_id,
            sessions::appid,
            sessions::created_at,
            sessions::expires_at,
            sessions::revoked_at,
        ))
        .get_result::<(String, String, String, i64, i64, Option<i64>)>(conn)
        .optional()?
        .map(
            |(id, user_id, appid, created_at, expires_at, revoked_at)| Session {
                id,
                user_id,
                appid,
                created_at,
                expires_at,
                revoked_at,
            },
        ))
}

/// The refresh writer thread: takes the compare-and-sets that queued while it was writing,
/// makes them in one transaction, commits once, and answers them. Ends when the store is
/// dropped.
pub(crate) fn commit_refreshes(
    db: std::sync::Weak<Database>,
    queue: std::sync::mpsc::Receiver<RefreshJob>,
) {
    serve_batches(
        db,
        queue,
        MOST_PER_COMMIT,
        std::time::Duration::ZERO,
        |db, batch| {
            // A panic (none is expected) answers its batch with an error, and the thread goes on.
            let moved = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                db.rotate_together(&batch)
            }))
            .unwrap_or_else(|_| {
                Err(StoreError::Internal(Cause::new(WriterGone("a panic".into()))).into())
            });
            db.call_done(matches!(moved, Err(DbError::Diesel(_))));
            match moved {
                Ok(sessions) => {
                    for (job, session) in batch.into_iter().zip(sessions) {
                        let _ = job.answer.send(Ok(session));
                    }
                }
                Err(e) => {
                    let e = StoreError::from(e);
                    for job in batch {
                        let _ = job.answer.send(Err(e.clone()));
                    }
                }
            }
        },
    );
}
