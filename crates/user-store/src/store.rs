//! The adapter itself: a pool, the sealer, SQLite's write turn, and the way every call reaches
//! the database (a permit, then a blocking thread).

use std::sync::Arc;

use wxlogin_domain::{Cause, NewLogin, OpenedLogin, StoreError};

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
    /// On PostgreSQL, where the change feed listens (the store's URL unless one is given).
    pub(crate) listen_url: Option<String>,
    /// On SQLite, this process's subscribers to the file's changes, and its lock on the file:
    /// declared after the pool, so the connections close before the lock is let go.
    pub(crate) local_feed: Option<Arc<LocalFeed>>,
    /// The queues of the writer threads that commit logins together. A login goes to the queue
    /// its identity hashes to, so two writers never hold and wait for each other's inserts of
    /// one identity (two first logins of one person in two batches would deadlock).
    logins: Vec<std::sync::mpsc::Sender<LoginJob>>,
}

/// A login waiting for a writer thread, and where its answer goes.
struct LoginJob {
    login: NewLogin,
    answer: tokio::sync::oneshot::Sender<Result<OpenedLogin, StoreError>>,
}

/// The most logins one commit takes.
const MOST_PER_COMMIT: usize = 64;

/// A login writer thread (one on SQLite, up to three on PostgreSQL): takes the logins that
/// queued while it was writing, opens each in a savepoint of one transaction (a login that fails
/// is rolled back alone, and opened again alone after the commit), commits once, and answers
/// them. One wake and one commit for many logins, where each login on its own blocking thread
/// was a thread woken for it, on SQLite a turn on the write mutex, and a commit. Ends when the
/// store is dropped.
fn commit_logins(db: std::sync::Weak<Database>, queue: std::sync::mpsc::Receiver<LoginJob>) {
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
    }
}

impl Database {
    /// What follows every store call, on the thread that made it: if it `failed_in_database`,
    /// every pooled connection is checked before its next use (constraint violations included:
    /// telling them apart is not worth a dead connection used twice, and failures are rare);
    /// and whatever it changed on SQLite goes to the feed, now that its transactions are over (a
    /// change rolled back is told too: a cache then reads the row again, for nothing).
    fn call_done(&self, failed_in_database: bool) {
        if failed_in_database {
            self.failures.bump();
        }
        let made = crate::changes::made_here();
        if let Some(feed) = &self.local_feed {
            feed.hand_over(&made);
        }
    }

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
        let listen_url = match (&url, &options.listen_url) {
            (DatabaseUrl::Postgres(_), Some(DatabaseUrl::Postgres(listen))) => Some(listen.clone()),
            (DatabaseUrl::Postgres(own), None) => Some(own.clone()),
            (_, None) => None,
            (_, Some(listen)) => {
                return Err(StoreError::InvalidUrl(format!(
                    "{listen} as the change feed's URL: only a PostgreSQL store has a feed to \
                     listen to, on PostgreSQL"
                )));
            }
        };
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
        // SQLite has one writer at a time anyway; PostgreSQL's logins use a few connections at
        // once, leaving the rest of the pool to everything else.
        let writers = if url.is_postgres() {
            (size / 2).clamp(1, 3)
        } else {
            1
        };
        let mut spawned = Ok(());
        let db = Arc::new_cyclic(|db| {
            let logins = (0..writers)
                .map(|_| {
                    let (queue, jobs) = std::sync::mpsc::channel();
                    let db = db.clone();
                    let started = std::thread::Builder::new()
                        .name("wxlogin-logins".into())
                        .spawn(move || commit_logins(db, jobs))
                        .map(drop);
                    if started.is_err() {
                        spawned = started;
                    }
                    queue
                })
                .collect();
            Database {
                pool,
                url,
                sealer,
                listen_url,
                sqlite_writer: std::sync::Mutex::new(()),
                failures,
                local_feed,
                logins,
            }
        });
        spawned.map_err(|e| StoreError::Internal(Cause::new(e)))?;
        Ok(Self {
            db,
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

    /// Opens a login through the writer threads, which commit the logins that queue together.
    pub(crate) async fn open_login(&self, login: &NewLogin) -> Result<OpenedLogin, StoreError> {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (&login.appid, login.openid.expose()).hash(&mut hasher);
        // There is at least one writer; truncating the hash on 32-bit targets is harmless.
        let writer = hasher.finish() as usize % self.db.logins.len().max(1);
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.db
            .logins
            .get(writer)
            .ok_or_else(|| StoreError::Internal(Cause::new(WriterGone("no writer".into()))))?
            .send(LoginJob {
                login: login.clone(),
                answer,
            })
            .map_err(|e| StoreError::Internal(Cause::new(WriterGone(e.to_string()))))?;
        answered
            .await
            .map_err(|e| StoreError::Internal(Cause::new(e)))?
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
            db.call_done(matches!(result, Err(DbError::Diesel(_))));
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

/// SQLite's login writer thread failed a batch, or is gone.
#[derive(Debug, thiserror::Error)]
#[error("the SQLite login writer failed: {0}")]
struct WriterGone(String);

#[derive(Debug, thiserror::Error)]
#[error("{url}")]
struct PoolFailed {
    url: String,
    #[source]
    source: r2d2::Error,
}
