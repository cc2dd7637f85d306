use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};

use crate::StoreError;

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
    /// Without the password a PostgreSQL URL may carry.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite://{path}"),
            Self::Postgres(url) => match url.split_once('@') {
                Some((_, host)) => write!(f, "postgres://<credentials>@{host}"),
                None => f.write_str(url),
            },
        }
    }
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

/// How big the pool is and how long a caller waits for a connection.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// Most connections open at once: the real database concurrency limit.
    pub max_size: u32,
    /// Longest wait for a free connection before failing with `Unavailable`.
    pub connection_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_size: 8,
            connection_timeout: Duration::from_secs(5),
        }
    }
}

/// Opens connections for r2d2, with the per-connection settings each backend needs.
#[derive(Debug)]
pub(crate) struct AnyConnectionManager {
    pub(crate) url: DatabaseUrl,
}

/// Settings every SQLite connection needs under concurrency: without WAL and a busy timeout,
/// concurrent writers fail at once with "database is locked". A checkpoint every 4000 WAL
/// pages (16 MiB) rather than SQLite's 1000: pages written again and again (index edges) are
/// copied to the database once per checkpoint. A page cache of 512 KiB per connection rather
/// than 2 MiB: the operating system caches the file anyway, and a pool of eight would
/// otherwise hold 16 MiB.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; \
     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 4000; \
     PRAGMA cache_size = -512;";

impl r2d2::ManageConnection for AnyConnectionManager {
    type Connection = AnyConnection;
    type Error = StoreError;

    fn connect(&self) -> Result<AnyConnection, StoreError> {
        match &self.url {
            DatabaseUrl::Postgres(url) => PgConnection::establish(url)
                .map(AnyConnection::Postgresql)
                .map_err(|e| StoreError::Unavailable(format!("{}: {e}", self.url))),
            DatabaseUrl::Sqlite(path) => {
                if let Some(dir) = std::path::Path::new(path)
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
                    })?;
                }
                let mut conn = SqliteConnection::establish(path)
                    .map_err(|e| StoreError::Unavailable(format!("{}: {e}", self.url)))?;
                conn.batch_execute(SQLITE_PRAGMAS)
                    .map_err(|e| StoreError::Unavailable(format!("{}: {e}", self.url)))?;
                Ok(AnyConnection::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), StoreError> {
        diesel::sql_query("SELECT 1")
            .execute(conn)
            .map(|_| ())
            .map_err(|e| StoreError::Unavailable(e.to_string()))
    }

    fn has_broken(&self, _conn: &mut AnyConnection) -> bool {
        false
    }
}
