//! The adapter itself, [`DieselStore`]: connecting (the pool, the login writers, SQLite's
//! lock), and the way every call reaches the database (a permit, then a blocking thread).

use std::sync::Arc;

use wxlogin_domain::{Cause, NewLogin, OpenedLogin, StoreError};

use crate::changes::LocalFeed;
use crate::connection::{AnyConnectionManager, FailureEpoch};
use crate::database::{Database, LoginJob, WriterGone};
use crate::error::{DbError, DbResult};
use crate::group_commit::commit_logins;
use crate::{DatabaseUrl, PoolOptions, SecretSealer};

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
/// Secrets (session_keys, the access token) are sealed with its [`SecretSealer`] before they
/// are written, so the database alone does not give them away.
#[derive(Clone)]
pub struct DieselStore {
    pub(crate) db: Arc<Database>,
    permits: Arc<tokio::sync::Semaphore>,
}

/// A snapshot of the connection pool, from [`DieselStore::pool_state`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolState {
    /// The most connections the pool opens (`DB_POOL_SIZE`).
    pub max_size: u32,
    /// Connections open now.
    pub connections: u32,
    /// Of those, the ones no call is using.
    pub idle: u32,
    /// Calls holding a permit (running on a connection, or about to), and login writer threads
    /// writing a batch (they hold a connection of their own).
    pub in_use: u32,
}

impl std::fmt::Debug for DieselStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DieselStore")
            .field("url", &self.db.url)
            .finish_non_exhaustive()
    }
}

impl DieselStore {
    /// Connects to `url` (`sqlite://<path>` or `postgres://...`) and fills the pool, so an
    /// unreachable database is reported here rather than on the first request. This blocks:
    /// from async code, call it on a blocking thread (or use [`DieselStore::open`]).
    pub fn connect(
        url: &str,
        options: &PoolOptions,
        sealer: SecretSealer,
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
            let (refreshes, jobs) = std::sync::mpsc::channel();
            let writer = db.clone();
            let started = std::thread::Builder::new()
                .name("wxlogin-refreshes".into())
                .spawn(move || crate::refresh::commit_refreshes(writer, jobs))
                .map(drop);
            if started.is_err() {
                spawned = started;
            }
            Database {
                pool,
                url,
                sealer,
                listen_url,
                sqlite_writer: std::sync::Mutex::new(()),
                failures,
                local_feed,
                logins,
                refreshes,
                busy_writers: std::sync::atomic::AtomicU32::new(0),
                webhooks: std::sync::OnceLock::new(),
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

    /// [`DieselStore::connect`] on a blocking thread, then the pending migrations applied:
    /// a store ready to use, and the names of the migrations this call applied.
    pub async fn open(
        url: &str,
        options: &PoolOptions,
        sealer: SecretSealer,
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
            in_use: max_size.saturating_sub(free).saturating_add(
                self.db
                    .busy_writers
                    .load(std::sync::atomic::Ordering::Relaxed),
            ),
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

    /// Spends refresh token `counter` of session `id` through the refresh writer, which commits
    /// the refreshes that queue together.
    pub(crate) async fn rotate_refresh(
        &self,
        id: &str,
        counter: i64,
        audit: &wxlogin_domain::Audit,
    ) -> Result<Option<wxlogin_domain::Session>, StoreError> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.db
            .refreshes
            .send(crate::refresh::RefreshJob {
                id: id.to_owned(),
                counter,
                audit: audit.clone(),
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

#[derive(Debug, thiserror::Error)]
#[error("{url}")]
struct PoolFailed {
    url: String,
    #[source]
    source: r2d2::Error,
}
