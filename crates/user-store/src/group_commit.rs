//! Group commit: the logins that queue while a writer thread is busy go into one transaction,
//! each in a savepoint of its own, and are committed together.

use std::sync::atomic::Ordering;

use wxlogin_domain::{Cause, OpenedLogin, StoreError};

use crate::database::{Database, LoginJob, WriterGone};
use crate::error::{DbError, DbResult};

/// The most logins one commit takes.
const MOST_PER_COMMIT: usize = 64;

/// A login writer thread (one on SQLite, up to three on PostgreSQL): takes the logins that
/// queued while it was writing, opens each in a savepoint of one transaction (a login that fails
/// is rolled back alone, and opened again alone after the commit), commits once, and answers
/// them. One wake and one commit for many logins, where each login on its own blocking thread
/// was a thread woken for it, on SQLite a turn on the write mutex, and a commit. Ends when the
/// store is dropped.
pub(crate) fn commit_logins(
    db: std::sync::Weak<Database>,
    queue: std::sync::mpsc::Receiver<LoginJob>,
) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MOST_PER_COMMIT {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let Some(db) = db.upgrade() else {
            return;
        };
        // A panic (none is expected) answers its batch with an error, and the thread goes on.
        db.busy_writers.fetch_add(1, Ordering::Relaxed);
        let opened =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| db.open_logins(&batch)))
                .unwrap_or_else(|_| {
                    Err(StoreError::Internal(Cause::new(WriterGone("a panic".into()))).into())
                });
        db.busy_writers.fetch_sub(1, Ordering::Relaxed);
        db.call_done(match &opened {
            Ok(answers) => answers
                .iter()
                .any(|answer| matches!(answer, Err(DbError::Diesel(_)))),
            Err(e) => matches!(e, DbError::Diesel(_)),
        });
        match opened {
            Ok(answers) => {
                for (job, answer) in batch.into_iter().zip(answers) {
                    let _ = job.answer.send(answer.map_err(StoreError::from));
                }
            }
            Err(e) => {
                let e = StoreError::from(e);
                for job in batch {
                    let _ = job.answer.send(Err(e.clone()));
                }
            }
        }
    }
}

impl Database {
    /// Opens every login of `batch` in one transaction, each in a savepoint of its own; a login
    /// that fails there (or needs a person's lock, on PostgreSQL) is opened again alone once
    /// the others are committed, the way it would have been without a batch.
    fn open_logins(&self, batch: &[LoginJob]) -> DbResult<Vec<DbResult<OpenedLogin>>> {
        use diesel::Connection;
        let answers = {
            let mut conn = self.writer()?;
            conn.transaction(|conn| {
                Ok::<_, DbError>(
                    batch
                        .iter()
                        .map(|job| {
                            conn.transaction(|conn| self.open_login_on(conn, &job.login, true))
                        })
                        .collect::<Vec<_>>(),
                )
            })?
        };
        Ok(batch
            .iter()
            .zip(answers)
            .map(|(job, answer)| match answer {
                Err(_) => self.open_login(&job.login),
                opened => opened,
            })
            .collect())
    }
}
