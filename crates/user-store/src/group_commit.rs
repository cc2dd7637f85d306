//! Group commit: the logins that queue while a writer thread is busy go into one transaction
//! and are committed together; should one fail, the batch goes again with a savepoint each.

use std::sync::atomic::Ordering;

use wxlogin_domain::{Cause, OpenedLogin, StoreError};

use crate::database::{Database, LoginJob, WriterGone};
use crate::error::{DbError, DbResult};

/// The most logins one commit takes.
const MOST_PER_COMMIT: usize = 64;

/// A login writer thread (one on SQLite, up to three on PostgreSQL): takes the logins that
/// queued while it was writing, opens them in one transaction (should one fail, the batch goes
/// again with a savepoint each, so that it is rolled back alone, and it is opened again alone
/// after the commit), commits once, and answers
/// them. One wake and one commit for many logins, where each login on its own blocking thread
/// was a thread woken for it, on SQLite a turn on the write mutex, and a commit. Ends when the
/// store is dropped.
pub(crate) fn commit_logins(
    db: std::sync::Weak<Database>,
    queue: std::sync::mpsc::Receiver<LoginJob>,
) {
    serve_batches(
        db,
        queue,
        MOST_PER_COMMIT,
        std::time::Duration::ZERO,
        |db, batch| {
            // A panic (none is expected) answers its batch with an error, and the thread goes on.
            let opened =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| db.open_logins(&batch)))
                    .unwrap_or_else(|_| {
                        Err(StoreError::Internal(Cause::new(WriterGone("a panic".into()))).into())
                    });
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
        },
    );
}

/// What every writer thread does with its queue: takes the jobs that queued while it was
/// writing (at most `most`), waiting up to `linger` after the first for more, and hands them to
/// `write`, counted among the busy writers meanwhile (they hold a connection outside the
/// permits). Ends when the store is dropped.
pub(crate) fn serve_batches<J>(
    db: std::sync::Weak<Database>,
    queue: std::sync::mpsc::Receiver<J>,
    most: usize,
    linger: std::time::Duration,
    mut write: impl FnMut(&Database, Vec<J>),
) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        let until = std::time::Instant::now() + linger;
        while batch.len() < most {
            let job = match queue.try_recv() {
                Ok(job) => job,
                Err(std::sync::mpsc::TryRecvError::Disconnected) => break,
                Err(std::sync::mpsc::TryRecvError::Empty) => {
                    let left = until.saturating_duration_since(std::time::Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    match queue.recv_timeout(left) {
                        Ok(job) => job,
                        Err(_) => break,
                    }
                }
            };
            batch.push(job);
        }
        let Some(db) = db.upgrade() else {
            return;
        };
        db.busy_writers.fetch_add(1, Ordering::Relaxed);
        write(&db, batch);
        db.busy_writers.fetch_sub(1, Ordering::Relaxed);
    }
}

/// How the logins of a batch are kept apart within its transaction.
#[derive(Clone, Copy)]
enum Apart {
    /// Not at all: the common case, where every login goes in. A failed statement breaks the
    /// whole transaction on PostgreSQL, so the batch is rolled back and goes again [`Self::Savepoints`].
    No,
    /// Each login in a savepoint of its own, rolled back alone if it fails.
    Savepoints,
}

impl Database {
    /// Opens every login of `batch` in one transaction; a login that fails there (or needs a
    /// person's lock, on PostgreSQL) is opened again alone once the others are committed, the
    /// way it would have been without a batch. A batch of one is opened alone at once.
    ///
    /// The logins are first tried without a savepoint each: on PostgreSQL a savepoint and its
    /// release are two more statements for a login that is otherwise one. Should any fail,
    /// the transaction is rolled back (nothing was answered yet) and the batch goes again
    /// with savepoints, so that one login's failure costs the others nothing but time.
    fn open_logins(&self, batch: &[LoginJob]) -> DbResult<Vec<DbResult<OpenedLogin>>> {
        if let [job] = batch {
            return Ok(vec![self.open_login(&job.login)]);
        }
        let mut failed_within = false;
        let answers = match self.open_together(batch, Apart::No, &mut failed_within) {
            Ok(answers) => answers,
            // A login failed: nothing was committed, and the batch goes again apart.
            Err(_) if failed_within => {
                self.open_together(batch, Apart::Savepoints, &mut failed_within)?
            }
            // The transaction itself failed (its start, or its commit, which may have been made
            // without its answer reaching us): going again could open every login twice.
            Err(e) => return Err(e),
        };
        Ok(batch
            .iter()
            .zip(answers)
            .map(|(job, answer)| match answer {
                refused @ Err(DbError::Store(StoreError::AccountDisabled)) => refused,
                Err(_) => self.open_login(&job.login),
                opened => opened,
            })
            .collect())
    }

    /// The logins of `batch` in one transaction, kept `apart` as said. Without savepoints, a
    /// login may fail only by asking to be opened alone, or by being refused (a banned account),
    /// both before it wrote anything; any other
    /// failure of a login sets `failed_within`, rolls the whole transaction back and is the
    /// answer.
    fn open_together(
        &self,
        batch: &[LoginJob],
        apart: Apart,
        failed_within: &mut bool,
    ) -> DbResult<Vec<DbResult<OpenedLogin>>> {
        use diesel::Connection;
        let mut conn = self.writer()?;
        conn.transaction(|conn| {
            let mut answers = Vec::with_capacity(batch.len());
            for job in batch {
                answers.push(match apart {
                    Apart::Savepoints => {
                        conn.transaction(|conn| self.open_login_on(conn, &job.login, true))
                    }
                    Apart::No => match self.open_login_on(conn, &job.login, true) {
                        Err(DbError::OpenAlone) => Err(DbError::OpenAlone),
                        // Refused before it wrote anything: the batch goes on.
                        Err(DbError::Store(StoreError::AccountDisabled)) => {
                            Err(DbError::Store(StoreError::AccountDisabled))
                        }
                        Err(e) => {
                            *failed_within = true;
                            return Err(e);
                        }
                        opened => opened,
                    },
                });
            }
            Ok(answers)
        })
    }
}
