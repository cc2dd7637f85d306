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
    /// Every key that opens, by generation. A key that does not (sealed under a secret this
    /// server no longer holds: `SESSION_KEY_SECRET_PREVIOUS` dropped too early) is left out
    /// with a warning, rather than every key with it: the instance still signs and verifies
    /// with the others. A key sealed under the previous secret is sealed again under the
    /// current one, so that dropping the previous secret later loses nothing.
    pub(crate) fn signing_keys(&self) -> DbResult<Vec<StoredSigningKey>> {
        let rows: Vec<KeyRow> = signing_keys::table
            .order(signing_keys::generation.asc())
            .select(KeyRow::as_select())
            .load(&mut *self.conn()?)?;
        let current = format!("v1.{}.", self.sealer.key_id());
        let mut keys = Vec::with_capacity(rows.len());
        for row in rows {
            let private_key = match self.sealer.open(&row.private_key, &record(&row.kid)) {
                Ok(key) => key,
                Err(e) => {
                    log::warn!(
                        "token signing key {} cannot be opened ({e}): left out; its tokens are \
                         refused",
                        row.kid
                    );
                    continue;
                }
            };
            if !row.private_key.starts_with(&current) {
                self.reseal(&row, &private_key);
            }
            keys.push(StoredSigningKey {
                kid: row.kid,
                generation: row.generation,
                algorithm: row.algorithm,
                private_key: PrivateKey::new(private_key),
                created_at: row.created_at,
                signs_from: row.signs_from,
            });
        }
        Ok(keys)
    }

    /// Seals a key read under the previous secret again under the current one, if no other
    /// instance did first; best effort (the next read tries again).
    fn reseal(&self, row: &KeyRow, private_key: &str) {
        let resealed = self
            .sealer
            .seal(private_key, &record(&row.kid))
            .map_err(crate::error::DbError::from)
            .and_then(|sealed| {
                Ok(diesel::update(signing_keys::table)
                    .filter(signing_keys::kid.eq(&row.kid))
                    .filter(signing_keys::private_key.eq(&row.private_key))
                    .set(signing_keys::private_key.eq(sealed))
                    .execute(&mut *self.writer()?)?)
            });
        if resealed.is_err() {
            log::warn!(
                "token signing key {} could not be sealed under the current secret yet",
                row.kid
            );
        }
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
