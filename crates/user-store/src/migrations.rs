//! The schema, embedded per backend and brought up to date at start.

use diesel::RunQueryDsl;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use wxlogin_domain::{Cause, StoreError};

use crate::DieselStore;
use crate::connection::AnyConnection;
use crate::database::Database;
use crate::error::DbResult;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// Serialises migrations across server instances starting at once on one PostgreSQL
/// (an arbitrary constant: "wxlogin" in ASCII).
const MIGRATION_LOCK_ID: i64 = 0x77_78_6c_6f_67_69_6e;

impl DieselStore {
    /// Applies the migrations not yet applied and returns their names. On PostgreSQL, under an
    /// advisory lock, so instances starting together take turns.
    pub async fn run_migrations(&self) -> Result<Vec<String>, StoreError> {
        self.run(Database::run_migrations).await
    }

    /// Gives the users and sessions made before identities existed (by a server serving one
    /// mini program) to `appid`, the app they came from; says how many identities it claimed.
    /// Harmless once done: later calls find nothing to claim.
    pub async fn claim_legacy_rows(&self, appid: &str) -> Result<usize, StoreError> {
        let appid = appid.to_owned();
        self.run(move |db| crate::legacy::claim_legacy_rows(&mut *db.writer()?, &appid))
            .await
    }

    /// How many identities made before identities existed still wait for their app
    /// ([`DieselStore::claim_legacy_rows`]).
    pub async fn unclaimed_legacy_rows(&self) -> Result<i64, StoreError> {
        self.run(|db| crate::legacy::unclaimed_legacy_rows(&mut *db.conn()?))
            .await
    }
}

#[cfg(feature = "test-support")]
impl DieselStore {
    /// Applies the pending migrations whose version sorts before `version`, and no later one:
    /// for tests of an upgrade from an older schema, with rows written in it.
    pub async fn run_migrations_before(&self, version: &str) -> Result<Vec<String>, StoreError> {
        let version = version.to_owned();
        self.run(move |db| {
            let mut conn = db.conn()?;
            let migration_error = |e: Box<dyn std::error::Error + Send + Sync>| {
                StoreError::Migration(Cause::boxed(e))
            };
            macro_rules! before {
                ($c:expr, $source:expr) => {{
                    let mut applied = Vec::new();
                    for migration in $c.pending_migrations($source).map_err(migration_error)? {
                        let name = migration.name().to_string();
                        if name.as_str() >= version.as_str() {
                            break;
                        }
                        $c.run_migration(&*migration).map_err(migration_error)?;
                        applied.push(name);
                    }
                    applied
                }};
            }
            Ok(match &mut *conn {
                AnyConnection::Sqlite(c) => before!(c, SQLITE_MIGRATIONS),
                AnyConnection::Postgresql(c) => before!(c, POSTGRES_MIGRATIONS),
            })
        })
        .await
    }
}

impl Database {
    fn run_migrations(&self) -> DbResult<Vec<String>> {
        let mut conn = self.conn()?;
        let migration_error =
            |e: Box<dyn std::error::Error + Send + Sync>| StoreError::Migration(Cause::boxed(e));
        let applied = match &mut *conn {
            AnyConnection::Sqlite(c) => c
                .run_pending_migrations(SQLITE_MIGRATIONS)
                .map(|versions| versions.iter().map(ToString::to_string).collect())
                .map_err(migration_error)?,
            AnyConnection::Postgresql(c) => {
                diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_ID})"))
                    .execute(c)?;
                let applied = c
                    .run_pending_migrations(POSTGRES_MIGRATIONS)
                    .map(|versions| versions.iter().map(ToString::to_string).collect::<Vec<_>>())
                    .map_err(migration_error);
                diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_ID})"))
                    .execute(c)?;
                applied?
            }
        };
        Ok(applied)
    }
}
