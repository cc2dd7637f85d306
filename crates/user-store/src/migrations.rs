//! The schema, embedded per backend and brought up to date at start.

use diesel::RunQueryDsl;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use wxlogin_domain::{Cause, StoreError};

use crate::DieselUserStore;
use crate::connection::AnyConnection;
use crate::error::DbResult;
use crate::store::Database;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// Serialises migrations across server instances starting at once on one PostgreSQL
/// (an arbitrary constant: "wxlogin" in ASCII).
const MIGRATION_LOCK_ID: i64 = 0x77_78_6c_6f_67_69_6e;

impl DieselUserStore {
    /// Applies the migrations not yet applied and returns their names. On PostgreSQL, under an
    /// advisory lock, so instances starting together take turns.
    pub async fn run_migrations(&self) -> Result<Vec<String>, StoreError> {
        self.run(Database::run_migrations).await
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
