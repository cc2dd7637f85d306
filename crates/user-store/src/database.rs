//! What every store call runs against: the pool, the sealer, SQLite's write turn, the change
//! feed's settings, and the queues of the login writers; and how a call gets a connection.

use std::sync::Arc;

use wxlogin_domain::{Cause, NewLogin, OpenedLogin, StoreError};

use crate::changes::LocalFeed;
use crate::connection::{AnyConnection, AnyConnectionManager, FailureEpoch};
use crate::error::DbResult;
use crate::{DatabaseUrl, SecretSealer};

pub(crate) type Pool = r2d2::Pool<AnyConnectionManager>;
/// A connection checked out of the pool, seen as the connection itself.
pub(crate) struct PooledConnection(r2d2::PooledConnection<AnyConnectionManager>);

impl std::ops::Deref for PooledConnection {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.0
    }
}

impl std::ops::DerefMut for PooledConnection {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.0
    }
}

/// What the blocking work runs against.
pub(crate) struct Database {
    pub(crate) pool: Pool,
    pub(crate) url: DatabaseUrl,
    pub(crate) sealer: SecretSealer,
    /// SQLite has one writer at a time. Writers of this process queue here, on a mutex, rather
    /// than in SQLite's busy handler, which polls with sleeps of up to 100 ms.
    pub(crate) sqlite_writer: std::sync::Mutex<()>,
    /// Shared with the pool's manager: a failed query makes every connection be checked again.
    pub(crate) failures: Arc<FailureEpoch>,
    /// On PostgreSQL, where the change feed listens (the store's URL unless one is given).
    pub(crate) listen_url: Option<String>,
    /// On SQLite, this process's subscribers to the file's changes, and its lock on the file:
    /// declared after the pool, so the connections close before the lock is let go.
    pub(crate) local_feed: Option<Arc<LocalFeed>>,
    /// The queues of the writer threads that commit logins together. A login goes to the queue
    /// its identity hashes to, so two writers never hold and wait for each other's inserts of
    /// one identity (two first logins of one person in two batches would deadlock).
    pub(crate) logins: Vec<std::sync::mpsc::Sender<LoginJob>>,
    /// The queue of the writer thread that commits refreshes' compare-and-sets together.
    pub(crate) refreshes: std::sync::mpsc::Sender<crate::refresh::RefreshJob>,
    /// How many writer threads are writing a batch now: they hold connections outside the
    /// permits, and the pool's use counts them too.
    pub(crate) busy_writers: std::sync::atomic::AtomicU32,
    /// Which endpoints want which events (`DieselStore::route_webhooks`): the changes record
    /// their events for them in the outbox. Unset: no event is recorded.
    pub(crate) webhooks: std::sync::OnceLock<wxlogin_domain::WebhookRoutes>,
}

/// A login waiting for a writer thread, and where its answer goes.
pub(crate) struct LoginJob {
    pub(crate) login: NewLogin,
    pub(crate) answer: tokio::sync::oneshot::Sender<Result<OpenedLogin, StoreError>>,
}

impl Database {
    /// What follows every store call, on the thread that made it: if it `failed_in_database`,
    /// every pooled connection is checked before its next use (constraint violations included:
    /// telling them apart is not worth a dead connection used twice, and failures are rare);
    /// and whatever it changed on SQLite goes to the feed, now that its transactions are over (a
    /// change rolled back is told too: a cache then reads the row again, for nothing).
    pub(crate) fn call_done(&self, failed_in_database: bool) {
        if failed_in_database {
            self.failures.bump();
        }
        let made = crate::changes::made_here();
        if let Some(feed) = &self.local_feed {
            feed.hand_over(&made);
        }
    }
}

/// A pooled connection for a write, holding the process's SQLite write turn if the backend is
/// SQLite.
pub(crate) struct WriteConnection<'a> {
    conn: PooledConnection,
    _turn: Option<std::sync::MutexGuard<'a, ()>>,
}

impl std::ops::Deref for WriteConnection<'_> {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for WriteConnection<'_> {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }
}

impl Database {
    // Lookups by a unique key use `get_result`, not `first`: `first` adds `LIMIT ?`, and with
    // the bundled SQLite (STAT4) a bound LIMIT makes the cached statement re-prepare on every
    // execution, which cost a third of a login's CPU.
    pub(crate) fn conn(&self) -> DbResult<PooledConnection> {
        Ok(PooledConnection(
            self.pool
                .get()
                .map_err(|e| StoreError::Unavailable(Cause::new(e)))?,
        ))
    }

    /// A connection for a write: on SQLite, once this process's previous writer is done.
    pub(crate) fn writer(&self) -> DbResult<WriteConnection<'_>> {
        let turn = match self.url {
            DatabaseUrl::Sqlite(_) => Some(
                self.sqlite_writer
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            ),
            DatabaseUrl::Postgres(_) => None,
        };
        Ok(WriteConnection {
            conn: self.conn()?,
            _turn: turn,
        })
    }

    /// Checks that the database answers, through the pool like every other call.
    pub(crate) fn ping(&self) -> DbResult<()> {
        use diesel::RunQueryDsl;
        diesel::sql_query("SELECT 1")
            .execute(&mut *self.conn()?)
            .map(|_| ())
            .map_err(|e| StoreError::Unavailable(Cause::new(e)).into())
    }
}

/// SQLite's login writer thread failed a batch, or is gone.
#[derive(Debug, thiserror::Error)]
#[error("the SQLite login writer failed: {0}")]
pub(crate) struct WriterGone(pub(crate) String);
