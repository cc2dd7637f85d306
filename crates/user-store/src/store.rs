//! The adapter itself: a pool, the sealer, SQLite's write turn, and the way every call reaches
//! the database (a permit, then a blocking thread).

use std::sync::Arc;

use wxlogin_domain::{Cause, StoreError};

use crate::changes::LocalFeed;
use crate::connection::{AnyConnection, AnyConnectionManager, FailureEpoch};
use crate::error::{DbError, DbResult};
use crate::{DatabaseUrl, PoolOptions, SessionKeySealer};

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

/// The store ports of `wxlogin-domain` ([`UserStore`](wxlogin_domain::UserStore),
/// [`SessionStore`](wxlogin_domain::SessionStore),
/// [`AccessTokenStore`](wxlogin_domain::AccessTokenStore),
/// [`ChangeFeed`](wxlogin_domain::ChangeFeed)) on diesel, SQLite or PostgreSQL by URL, pooled
/// with r2d2. Cheap to clone: clones share the pool.
///
/// diesel blocks, so every call waits for one of the pool's permits as a future, then runs on
/// tokio's blocking pool: async callers never block, and a burst queues as futures rather than
/// as threads blocked on the pool. Calls need a tokio runtime.
///
/// Secrets (session_keys, the access token) are sealed with its [`SessionKeySealer`] before they
/// are written, so the database alone does not give them away.
#[derive(Clone)]
pub struct DieselUserStore {
    pub(crate) db: Arc<Database>,
    permits: Arc<tokio::sync::Semaphore>,
}

/// What the blocking work runs against.
pub(crate) struct Database {
    pool: Pool,
    pub(crate) url: DatabaseUrl,
    pub(crate) sealer: SessionKeySealer,
    /// SQLite has one writer at a time. Writers of this process queue here, on a mutex, rather
    /// than in SQLite's busy handler, which polls with sleeps of up to 100 ms.
    sqlite_writer: std::sync::Mutex<()>,
    /// Shared with the pool's manager: a failed query makes every connection be checked again.
    failures: Arc<FailureEpoch>,
    /// On SQLite, this process's subscribers to the file's changes, and its lock on the file:
    /// declared after the pool, so the connections close before the lock is let go.
    pub(crate) local_feed: Option<Arc<LocalFeed>>,
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

/// A snapshot of the connection pool, from [`DieselUserStore::pool_state`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolState {
    /// The most connections the pool opens (`DB_POOL_SIZE`).
    pub max_size: u32,
    /// Connections open now.
    pub connections: u32,
    /// Of those, the ones no call is using.
    pub idle: u32,
    /// Calls holding a permit: running on a connection, or about to.
    pub in_use: u32,
}

impl std::fmt::Debug for DieselUserStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DieselUserStore")
            .field("url", &self.db.url)
            .finish_non_exhaustive()
    }
}

impl DieselUserStore {
    /// Connects to `url` (`sqlite://<path>` or `postgres://...`) and fills the pool, so an
    /// unreachable database is reported here rather than on the first request. This blocks:
    /// from async code, call it on a blocking thread (or use [`DieselUserStore::open`]).
    pub fn connect(
        url: &str,
        options: &PoolOptions,
        sealer: SessionKeySealer,
    ) -> Result<Self, StoreError> {
        let url = DatabaseUrl::parse(url)?;
        crate::connection::create_sqlite_file(&url)?;
        let local_feed = match &url {
            DatabaseUrl::Sqlite(path) => {
                LocalFeed::claim(path).map_err(|e| StoreError::Unavailable(Cause::new(e)))?
            }
            DatabaseUrl::Postgres(_) => None,
        };
        let size = options.max_size.max(1);
        let failures = Arc::new(FailureEpoch::default());
        let pool = r2d2::Pool::builder()
            .max_size(size)
            .min_idle(Some(1))
            // A SQLite file does not go away under an open connection; a PostgreSQL connection
            // can (a restart), and is then checked before use, unless it was in use a moment
            // ago with no query failing since (`PoolOptions::check_idle_after`).
            .test_on_check_out(url.is_postgres())
            .connection_timeout(options.connection_timeout)
            .build(AnyConnectionManager {
                url: url.clone(),
                failures: Arc::clone(&failures),
                check_idle_after: options.check_idle_after,
            })
            .map_err(|e| {
                StoreError::Unavailable(Cause::new(PoolFailed {
                    url: url.to_string(),
                    source: e,
                }))
            })?;
        Ok(Self {
            db: Arc::new(Database {
                pool,
                url,
                sealer,
                sqlite_writer: std::sync::Mutex::new(()),
                failures,
                local_feed,
            }),
            permits: Arc::new(tokio::sync::Semaphore::new(
                usize::try_from(size).unwrap_or(usize::MAX),
            )),
        })
    }

    /// [`DieselUserStore::connect`] on a blocking thread, then the pending migrations applied:
    /// a store ready to use, and the names of the migrations this call applied.
    pub async fn open(
        url: &str,
        options: &PoolOptions,
        sealer: SessionKeySealer,
    ) -> Result<(Self, Vec<String>), StoreError> {
        let (url, options) = (url.to_owned(), options.clone());
        let store = tokio::task::spawn_blocking(move || Self::connect(&url, &options, sealer))
            .await
            .map_err(|e| StoreError::Internal(Cause::new(e)))??;
        let applied = store.run_migrations().await?;
        Ok((store, applied))
    }

    /// Which database it talks to (without credentials when shown).
    pub fn url(&self) -> &DatabaseUrl {
        &self.db.url
    }

    /// How the connection pool is used right now (for metrics).
    pub fn pool_state(&self) -> PoolState {
        let state = self.db.pool.state();
        let max_size = self.db.pool.max_size();
        let free = u32::try_from(self.permits.available_permits()).unwrap_or(u32::MAX);
        PoolState {
            max_size,
            connections: state.connections,
            idle: state.idle_connections,
            in_use: max_size.saturating_sub(free),
        }
    }

    /// Runs blocking work on the database: once a permit is free, on a blocking thread.
    pub(crate) async fn run<R, F>(&self, work: F) -> Result<R, StoreError>
    where
        F: FnOnce(&Database) -> DbResult<R> + Send + 'static,
        R: Send + 'static,
    {
        // Waiting here costs nothing; waiting on a blocking thread costs a thread.
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| StoreError::Internal(Cause::new(e)))?;
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || {
            let result = work(&db);
            // Constraint violations included: telling them apart is not worth a dead
            // connection used twice, and failures are rare.
            if let Err(DbError::Diesel(_)) = result {
                db.failures.bump();
            }
            // Whatever the call changed on SQLite, now that its transactions are over (a change
            // rolled back is told too: a cache then reads the row again, for nothing).
            let made = crate::changes::made_here();
            if let Some(feed) = &db.local_feed {
                feed.hand_over(&made);
            }
            result
        })
        .await
        .map_err(|e| StoreError::Internal(Cause::new(e)))?
        .map_err(StoreError::from)
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

#[derive(Debug, thiserror::Error)]
#[error("{url}")]
struct PoolFailed {
    url: String,
    #[source]
    source: r2d2::Error,
}
