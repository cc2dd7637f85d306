//! The token signing keys every instance shares, their private halves sealed at rest like the
//! session_keys (a copy of the database alone cannot mint tokens).

use diesel::prelude::*;
use wxlogin_domain::{PrivateKey, StoredSigningKey};

use crate::database::Database;
use crate::error::DbResult;
use crate::schema::signing_keys;

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys)]
struct KeyRow {
    kid: String,
    generation: i64,
    algorithm: String,
    private_key: String,
    created_at: i64,
    signs_from: i64,
}

/// What the sealed value is bound to: a sealed key moved to another row does not open.
fn record(kid: &str) -> String {
    format!("signing_keys:{kid}")
}

impl Database {
    pub(crate) fn signing_keys(&self) -> DbResult<Vec<StoredSigningKey>> {
        let rows: Vec<KeyRow> = signing_keys::table
            .order(signing_keys::generation.asc())
            .select(KeyRow::as_select())
            .load(&mut *self.conn()?)?;
        rows.into_iter()
            .map(|row| {
                let private_key = self.sealer.open(&row.private_key, &record(&row.kid))?;
                Ok(StoredSigningKey {
                    kid: row.kid,
                    generation: row.generation,
                    algorithm: row.algorithm,
                    private_key: PrivateKey::new(private_key),
                    created_at: row.created_at,
                    signs_from: row.signs_from,
                })
            })
            .collect()
    }

    pub(crate) fn add_signing_key(&self, key: &StoredSigningKey) -> DbResult<bool> {
        let sealed = self
            .sealer
            .seal(key.private_key.expose(), &record(&key.kid))?;
        let added = diesel::insert_into(signing_keys::table)
            .values(KeyRow {
                kid: key.kid.clone(),
                generation: key.generation,
                algorithm: key.algorithm.clone(),
                private_key: sealed,
                created_at: key.created_at,
                signs_from: key.signs_from,
            })
            .execute(&mut *self.writer()?);
        match added {
            Ok(added) => Ok(added == 1),
            // Another instance made this generation (or, by a one in 2^122 chance, this kid).
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}
