//! Connections to either backend: the pool's manager, which checks a connection before it is
//! reused and closes one returned inside a transaction, and opening a SQLite file safely.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};

use wxlogin_domain::{Cause, StoreError};

use crate::database_url::DatabaseUrl;

/// A connection to either backend; queries are written once against it.
#[derive(diesel::MultiConnection)]
pub(crate) enum AnyConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

/// How big the pool is, how long a caller waits for a connection, and where the change feed
/// listens.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// Most connections open at once: the real database concurrency limit, and how many
    /// store calls run at once (the others wait as futures, not as blocked threads).
    pub max_size: u32,
    /// Longest wait for a free connection before failing with `Unavailable`.
    pub connection_timeout: Duration,
    /// A PostgreSQL connection idle in the pool for longer than this is checked (`SELECT 1`)
    /// before its next use; one used more recently, with no query failing since, is not.
    pub check_idle_after: Duration,
    /// Where the change feed listens, on PostgreSQL (`DATABASE_LISTEN_URL`): a direct
    /// connection to the server where the pool goes through a transaction-mode pooler such as
    /// PgBouncer, which loses notifications. `None`: the store's own URL.
    pub listen_url: Option<DatabaseUrl>,
}

/// The pool size when none is configured (`DB_POOL_SIZE`).
pub const DEFAULT_POOL_SIZE: u32 = 8;

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_size: DEFAULT_POOL_SIZE,
            connection_timeout: Duration::from_secs(5),
            check_idle_after: CHECK_IDLE_AFTER,
            listen_url: None,
        }
    }
}

/// A pooled connection, and when and in which failure epoch it last went back to the pool.
pub(crate) struct Pooled {
    conn: AnyConnection,
    returned: Option<(Instant, u64)>,
}

impl std::ops::Deref for Pooled {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for Pooled {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }
}

/// How recently a connection must have gone back to the pool, with no query failing since, for
/// its next checkout to skip the `SELECT 1` check, when none is configured.
///
/// The check is a round trip: a third of a returning user's login on PostgreSQL. A connection
/// in steady use proved itself a moment ago; the ones that die unseen are those left idle (a
/// restart, an idle timeout, a network cut), and those are still checked. Once any query fails,
/// every connection is checked again before its next use.
pub const CHECK_IDLE_AFTER: Duration = Duration::from_secs(1);

/// Counts the store calls that failed in the database, so a checkout can tell whether its
/// connection was last used before or after one: a failure may be the first sign that the
/// database dropped its connections.
#[derive(Debug, Default)]
pub(crate) struct FailureEpoch(AtomicU64);

impl FailureEpoch {
    pub(crate) fn current(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    /// Every pooled connection is checked before its next use.
    pub(crate) fn bump(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
}

/// Opens connections for r2d2, with the per-connection settings each backend needs.
#[derive(Debug)]
pub(crate) struct AnyConnectionManager {
    pub(crate) url: DatabaseUrl,
    pub(crate) failures: Arc<FailureEpoch>,
    pub(crate) check_idle_after: Duration,
}

/// Settings every SQLite connection needs under concurrency: without WAL and a busy timeout,
/// concurrent writers fail at once with "database is locked". A checkpoint every 4000 WAL
/// pages (16 MiB) rather than SQLite's 1000: pages written again and again (index edges) are
/// copied to the database once per checkpoint. A page cache of 512 KiB per connection rather
/// than 2 MiB: the operating system caches the file anyway, and a pool of eight would
/// otherwise hold 16 MiB. `secure_delete`: a deleted account's phone number and profile are
/// overwritten with zeros, not left readable in the file's free pages. The busy timeout comes
/// first: `journal_mode` reads the file, and a connection opened while another holds a lock
/// (a checkpoint after a deletion) must wait for it rather than fail to open.
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 4000; \
     PRAGMA cache_size = -512; PRAGMA secure_delete = ON;";

impl AnyConnectionManager {
    fn open(&self) -> Result<AnyConnection, StoreError> {
        match &self.url {
            DatabaseUrl::Postgres(url) => PgConnection::establish(url)
                .map(AnyConnection::Postgresql)
                .map_err(|e| unavailable(&self.url, e)),
            DatabaseUrl::Sqlite(path) => {
                // Opened read-write without create: the file is made once, by `create_sqlite_file`,
                // so a connection the pool opens late (after the file was removed) fails rather
                // than leaving a new empty database behind.
                let mut conn = SqliteConnection::establish(&existing_file_uri(path))
                    .map_err(|e| unavailable(&self.url, e))?;
                conn.batch_execute(SQLITE_PRAGMAS)
                    .map_err(|e| unavailable(&self.url, e))?;
                Ok(AnyConnection::Sqlite(conn))
            }
        }
    }
}

impl r2d2::ManageConnection for AnyConnectionManager {
    type Connection = Pooled;
    type Error = StoreError;

    fn connect(&self) -> Result<Pooled, StoreError> {
        Ok(Pooled {
            conn: self.open()?,
            returned: None,
        })
    }

    fn is_valid(&self, conn: &mut Pooled) -> Result<(), StoreError> {
        if let Some((at, epoch)) = conn.returned
            && epoch == self.failures.current()
            && at.elapsed() < self.check_idle_after
        {
            return Ok(());
        }
        diesel::sql_query("SELECT 1")
            .execute(&mut conn.conn)
            .map(|_| ())
            .map_err(|e| StoreError::Unavailable(Cause::new(e)))
    }

    /// Broken when it comes back with a transaction open or failed (a panic unwound through
    /// the code using it): put back in the pool, it would carry that transaction, and its locks
    /// (on SQLite, the write lock every other write then waits for), into the next call. Such a
    /// connection is closed instead, which rolls the transaction back. A dead connection is
    /// found by `is_valid`. Notes when it went back, too.
    fn has_broken(&self, conn: &mut Pooled) -> bool {
        conn.returned = Some((Instant::now(), self.failures.current()));
        std::thread::panicking() || in_transaction(&mut conn.conn)
    }
}

/// Whether `conn` has a transaction open, or one that failed and was not rolled back.
fn in_transaction(conn: &mut AnyConnection) -> bool {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    match conn {
        AnyConnection::Postgresql(c) => AnsiTransactionManager::is_broken_transaction_manager(c),
        AnyConnection::Sqlite(c) => AnsiTransactionManager::is_broken_transaction_manager(c),
    }
}

/// Makes the SQLite file (and its folder) if missing, readable and writable by its owner only:
/// it holds openids and phone numbers. SQLite gives the `-wal` and `-shm` files the same mode.
pub(crate) fn create_sqlite_file(url: &DatabaseUrl) -> Result<(), StoreError> {
    let DatabaseUrl::Sqlite(path) = url else {
        return Ok(());
    };
    let path = std::path::Path::new(path);
    let cannot_create = |e| {
        StoreError::Unavailable(Cause::new(CannotCreate {
            path: path.display().to_string(),
            source: e,
        }))
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(cannot_create)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map(drop).map_err(cannot_create)
}

/// The URI SQLite opens an existing file by, read-write, never creating it.
fn existing_file_uri(path: &str) -> String {
    let mut uri = String::from("file:");
    for c in path.chars() {
        match c {
            '%' => uri.push_str("%25"),
            '?' => uri.push_str("%3f"),
            '#' => uri.push_str("%23"),
            c => uri.push(c),
        }
    }
    uri.push_str("?mode=rw");
    uri
}

/// A database that could not be opened: which one (without credentials), and why.
#[derive(Debug, thiserror::Error)]
#[error("{url}")]
struct OpenFailed {
    url: String,
    #[source]
    source: Cause,
}

fn unavailable(url: &DatabaseUrl, e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Unavailable(Cause::new(OpenFailed {
        url: url.to_string(),
        source: Cause::new(e),
    }))
}

#[derive(Debug, thiserror::Error)]
#[error("cannot create {path}")]
struct CannotCreate {
    path: String,
    #[source]
    source: std::io::Error,
}

#[cfg(test)]
mod tests;
