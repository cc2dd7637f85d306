//! Throwaway databases for tests: a SQLite file, or a PostgreSQL database of its own.
//!
//! PostgreSQL is found at `WXLOGIN_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`), a URL of a role allowed to create databases.
//! When it cannot be reached, a test asking for it is skipped with a message on stderr, unless
//! `CI=true` or `WXLOGIN_REQUIRE_POSTGRES=1`, where it fails: CI never skips PostgreSQL silently.

use std::path::PathBuf;

use diesel::{Connection, RunQueryDsl, pg::PgConnection};
use wxlogin_domain::{OpenId, Session, StoreError, UnionId, User};

pub use crate::sessions::NewSession;

use crate::accounts::{locked, person_key, resolve};
use crate::users::known_identity;

/// Fixtures that reach past the login: an account without a session, a session without a
/// login. The ports have no such calls (every account and session comes from a login); tests
/// of the store's parts use these to set up a state in one step.
impl crate::DieselStore {
    /// The account of identity (`appid`, `openid`), created if there is none (`true`), with
    /// the same lookup, locks and unionid merging a login uses.
    pub async fn find_or_create_user(
        &self,
        appid: &str,
        openid: &OpenId,
        unionid: Option<&UnionId>,
        now: i64,
    ) -> Result<(User, bool), StoreError> {
        let (appid, openid, unionid) = (appid.to_owned(), openid.clone(), unionid.cloned());
        self.run(move |db| {
            // Returning users are found by a read, as a login finds them.
            if let Some(user) = known_identity(&mut *db.conn()?, &appid, &openid, unionid.as_ref())?
            {
                return Ok((user, false));
            }
            let key = person_key(&appid, &openid, unionid.as_ref());
            let resolved = locked(&mut *db.writer()?, &key, |conn| {
                resolve(conn, &appid, &openid, unionid.as_ref(), now)
            })?;
            Ok((resolved.user, resolved.created))
        })
        .await
    }

    /// Opens a session for an existing account; its session_key is sealed before it is stored.
    pub async fn create_session(&self, session: &NewSession) -> Result<Session, StoreError> {
        let session = session.clone();
        self.run(move |db| db.insert_session(&mut *db.writer()?, &session, None))
            .await
    }
}

/// A sealer for tests, under a fixed secret that is not secret.
pub fn test_sealer() -> crate::SecretSealer {
    crate::SealingSecret::new(*b"wxlogin test sealing secret, not a secret")
        .and_then(|secret| crate::SecretSealer::new(&secret))
        .unwrap_or_else(|e| unreachable!("the test secret is long enough: {e}"))
}

/// The admin URL used when `WXLOGIN_TEST_POSTGRES_URL` is not set.
pub const DEFAULT_POSTGRES_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

enum Cleanup {
    SqliteFile(PathBuf),
    PostgresDatabase { admin_url: String, name: String },
}

/// A database that exists for one test and is removed when dropped.
pub struct TestDatabase {
    url: String,
    cleanup: Cleanup,
}

impl TestDatabase {
    /// A fresh SQLite file in the temp folder. (`:memory:` would be one database per connection.)
    pub fn sqlite() -> Self {
        let path =
            std::env::temp_dir().join(format!("wxlogin-test-{}.db", uuid::Uuid::new_v4().simple()));
        Self {
            url: format!("sqlite://{}", path.display()),
            cleanup: Cleanup::SqliteFile(path),
        }
    }

    /// A fresh, empty PostgreSQL database; `None` (with a message) when PostgreSQL cannot be
    /// reached and it is not required.
    pub fn postgres() -> Option<Self> {
        let admin_url = std::env::var("WXLOGIN_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| DEFAULT_POSTGRES_ADMIN_URL.to_owned());
        let mut admin = match PgConnection::establish(&admin_url) {
            Ok(conn) => conn,
            Err(e) if postgres_required() => panic!(
                "PostgreSQL is required here (CI=true or WXLOGIN_REQUIRE_POSTGRES=1) but cannot be \
                 reached at WXLOGIN_TEST_POSTGRES_URL ({}): {e}",
                redact(&admin_url)
            ),
            Err(e) => {
                eprintln!(
                    "SKIPPED (PostgreSQL not reachable at {}: {e}); set WXLOGIN_TEST_POSTGRES_URL",
                    redact(&admin_url)
                );
                return None;
            }
        };
        let name = format!("wxlogin_test_{}", uuid::Uuid::new_v4().simple());
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
        let mut url = url::Url::parse(&admin_url)
            .unwrap_or_else(|e| panic!("WXLOGIN_TEST_POSTGRES_URL: {e}"));
        url.set_path(&name);
        Some(Self {
            url: url.to_string(),
            cleanup: Cleanup::PostgresDatabase { admin_url, name },
        })
    }

    /// Its URL, as `DATABASE_URL` takes it.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// Runs raw SQL on the database at `url`, outside any store: for rows of an older schema.
///
/// # Panics
/// When the database cannot be reached or the SQL fails: it is a test's own set-up.
pub fn execute_sql(url: &str, sql: &str) {
    use diesel::connection::SimpleConnection;
    let done = match url.strip_prefix("sqlite://") {
        Some(path) => diesel::SqliteConnection::establish(path)
            .map_err(|e| e.to_string())
            .and_then(|mut c| c.batch_execute(sql).map_err(|e| e.to_string())),
        None => PgConnection::establish(url)
            .map_err(|e| e.to_string())
            .and_then(|mut c| c.batch_execute(sql).map_err(|e| e.to_string())),
    };
    if let Err(e) = done {
        panic!("test SQL failed: {e}\n{sql}");
    }
}

/// Every value of every row of every table of the database at `url`, as text: to check that
/// nothing of a deleted person is left anywhere (migrations' bookkeeping excluded).
///
/// # Panics
/// When the database cannot be read: it is a test's own check.
pub fn every_stored_value(url: &str) -> Vec<String> {
    stored_values_outside(url, &[])
}

/// [`every_stored_value`] but for the tables named in `skip`.
///
/// # Panics
/// When the database cannot be read: it is a test's own check.
pub fn stored_values_outside(url: &str, skip: &[&str]) -> Vec<String> {
    use diesel::QueryableByName;
    #[derive(QueryableByName)]
    struct Text {
        #[diesel(sql_type = diesel::sql_types::Text)]
        value: String,
    }
    let texts = |rows: Result<Vec<Text>, diesel::result::Error>| -> Vec<String> {
        rows.unwrap_or_else(|e| panic!("reading the test database: {e}"))
            .into_iter()
            .map(|t| t.value)
            .collect()
    };
    match url.strip_prefix("sqlite://") {
        Some(path) => {
            let mut conn = diesel::SqliteConnection::establish(path)
                .unwrap_or_else(|e| panic!("opening the test database: {e}"));
            let tables = texts(
                diesel::sql_query(
                    "SELECT name AS value FROM sqlite_master WHERE type = 'table' \
                     AND name NOT LIKE 'sqlite_%' AND name <> '__diesel_schema_migrations'",
                )
                .load(&mut conn),
            );
            let mut values = Vec::new();
            for table in tables.into_iter().filter(|t| !skip.contains(&t.as_str())) {
                let columns = texts(
                    diesel::sql_query(format!(
                        "SELECT name AS value FROM pragma_table_info('{table}')"
                    ))
                    .load(&mut conn),
                );
                for column in columns {
                    values.extend(texts(
                        diesel::sql_query(format!(
                            "SELECT CAST(\"{column}\" AS TEXT) AS value FROM \"{table}\" \
                             WHERE \"{column}\" IS NOT NULL"
                        ))
                        .load(&mut conn),
                    ));
                }
            }
            values
        }
        None => {
            let mut conn = PgConnection::establish(url)
                .unwrap_or_else(|e| panic!("opening the test database: {e}"));
            let tables = texts(
                diesel::sql_query(
                    "SELECT table_name::text AS value FROM information_schema.tables \
                     WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations'",
                )
                .load(&mut conn),
            );
            let mut values = Vec::new();
            for table in tables.into_iter().filter(|t| !skip.contains(&t.as_str())) {
                values.extend(texts(
                    diesel::sql_query(format!("SELECT t::text AS value FROM \"{table}\" AS t"))
                        .load(&mut conn),
                ));
            }
            values
        }
    }
}

/// Whether a missing PostgreSQL fails the test instead of skipping it.
pub fn postgres_required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
        || std::env::var("WXLOGIN_REQUIRE_POSTGRES").is_ok_and(|v| v == "1")
}

/// The URL as `DatabaseUrl` shows it: without credentials.
fn redact(url: &str) -> String {
    crate::DatabaseUrl::parse(url).map_or_else(|_| "<unparsable URL>".to_owned(), |u| u.to_string())
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        self.destroy();
    }
}

impl TestDatabase {
    /// Removes the database now (a test of what happens when it disappears); dropping it
    /// later is harmless.
    pub fn destroy(&self) {
        match &self.cleanup {
            Cleanup::SqliteFile(path) => {
                for suffix in ["", "-wal", "-shm", "-lock"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Cleanup::PostgresDatabase { admin_url, name } => {
                if let Ok(mut admin) = PgConnection::establish(admin_url) {
                    let _ =
                        diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .execute(&mut admin);
                }
            }
        }
    }
}

/// The audit note of a change its user makes at `at`, for tests of the store's changes.
pub fn audit_at(at: i64) -> wxlogin_domain::Audit {
    wxlogin_domain::Audit::new(
        wxlogin_domain::AuditKind::Logout,
        wxlogin_domain::Actor::User,
        at,
    )
}
