use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};

use wxlogin_domain::{Cause, StoreError};

/// A connection to either backend; queries are written once against it.
#[derive(diesel::MultiConnection)]
pub(crate) enum AnyConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

/// A database URL, its backend picked by scheme.
///
/// Picked here rather than by diesel's `MultiConnection::establish`, which tries each backend
/// in turn and reports only "Invalid connection url for multiconnection".
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite://<path>` or `sqlite:<path>`: a file (created with its folder if missing).
    Sqlite(String),
    /// `postgres://...` or `postgresql://...`, as libpq reads it.
    Postgres(String),
}

impl std::fmt::Debug for DatabaseUrl {
    /// Without the credentials a PostgreSQL URL may carry, wherever they are.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite://{path}"),
            Self::Postgres(url) => f.write_str(&redact_postgres_url(url)),
        }
    }
}

/// The query parameters of a libpq URL that hold a secret.
const SECRET_PARAMETERS: [&str; 3] = ["password", "sslpassword", "passfile"];

/// A PostgreSQL URL fit for a log line: the user info (`user:password@`) and every secret query
/// parameter (`?password=…`, also with the host given as a parameter) replaced. A password may
/// hold an unencoded `@`: the user info ends at the last `@` before the path.
fn redact_postgres_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let (before_query, query) = match rest.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (rest, None),
    };
    // The path starts at the first `/` after the user info, if there is any.
    let host_start = before_query.rfind('@').map_or(0, |at| at + 1);
    let (authority, path) = match before_query[host_start..].find('/') {
        Some(slash) => before_query.split_at(host_start + slash),
        None => (before_query, ""),
    };
    let host = &authority[host_start..];
    let mut shown = format!("{scheme}://");
    if host_start > 0 {
        shown.push_str("<credentials>@");
    }
    shown.push_str(host);
    shown.push_str(path);
    if let Some(query) = query {
        let parameters: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _))
                    if SECRET_PARAMETERS.contains(&name.to_ascii_lowercase().as_str()) =>
                {
                    format!("{name}=<redacted>")
                }
                _ => pair.to_owned(),
            })
            .collect();
        shown.push('?');
        shown.push_str(&parameters.join("&"));
    }
    shown
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

impl DatabaseUrl {
    /// Reads a URL, refusing schemes the store does not serve and SQLite's `:memory:`, which
    /// would give every pooled connection its own empty database.
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(url.to_owned()));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| StoreError::InvalidUrl(format!("{:?}", scheme_of(url))))?;
        if path.is_empty() || path.contains(":memory:") || path.starts_with("file::memory") {
            return Err(StoreError::InvalidUrl(format!(
                "{url:?} (an in-memory SQLite database is one per connection; give a file path)"
            )));
        }
        Ok(Self::Sqlite(path.to_owned()))
    }

    /// Whether it is a PostgreSQL URL.
    pub fn is_postgres(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }
}

/// Only the scheme, so an error message never echoes a password.
fn scheme_of(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, _)) => format!("{scheme}://..."),
        None => "(no scheme)".to_owned(),
    }
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
mod tests {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};

    use super::*;
    use crate::testing::TestDatabase;

    fn pool_on(db: &TestDatabase) -> r2d2::Pool<AnyConnectionManager> {
        let url = DatabaseUrl::parse(db.url()).expect("url");
        create_sqlite_file(&url).expect("file");
        r2d2::Pool::builder()
            .max_size(2)
            .min_idle(Some(0))
            .build(AnyConnectionManager {
                url,
                failures: Arc::default(),
                check_idle_after: CHECK_IDLE_AFTER,
            })
            .expect("pool")
    }

    /// Begins a transaction through diesel (as `Connection::transaction` does) and writes in
    /// it, taking SQLite's write lock; the caller never commits.
    fn write_without_commit(conn: &mut AnyConnection) {
        let AnyConnection::Sqlite(c) = conn else {
            unreachable!("a SQLite pool");
        };
        AnsiTransactionManager::begin_transaction(c).expect("begin");
        c.batch_execute("INSERT INTO t VALUES (1)").expect("insert");
    }

    fn rows(conn: &mut AnyConnection) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        diesel::sql_query("SELECT count(*) AS n FROM t")
            .get_result::<N>(conn)
            .expect("count")
            .n
    }

    /// A connection that comes back with its transaction open (a panic in a login writer, or a
    /// bug) is closed, not pooled: its transaction is rolled back, and on SQLite the write lock
    /// it held does not stop every later write.
    #[test]
    fn a_connection_returned_inside_a_transaction_is_closed_not_reused() {
        let db = TestDatabase::sqlite();
        let pool = pool_on(&db);
        pool.get()
            .expect("conn")
            .batch_execute("CREATE TABLE t (x INTEGER)")
            .expect("table");
        write_without_commit(&mut pool.get().expect("conn"));
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut conn = pool.get().expect("conn");
            write_without_commit(&mut conn);
            panic!("a writer dies mid-transaction");
        }));
        assert!(panicked.is_err());

        let mut conn = pool.get().expect("conn");
        conn.batch_execute("PRAGMA busy_timeout = 200")
            .expect("short wait");
        conn.batch_execute("INSERT INTO t VALUES (2)")
            .expect("the write lock was let go");
        assert_eq!(rows(&mut conn), 1, "the abandoned writes were rolled back");
        let mut again = pool.get().expect("conn");
        assert!(
            !in_transaction(&mut again),
            "no pooled connection carries a transaction"
        );
    }
}
