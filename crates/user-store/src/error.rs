//! The adapter's own failures, turned into the port's [`StoreError`] at its boundary.

use wxlogin_domain::{Cause, StoreError};

use crate::SealError;

/// A failure inside the adapter: `?` turns diesel's and the sealer's errors into it, and the
/// port methods hand out its [`StoreError`]. diesel's errors are kept as they are until then,
/// so the adapter can still tell one kind from another.
#[derive(Debug)]
pub(crate) enum DbError {
    Diesel(diesel::result::Error),
    Store(StoreError),
    /// A login of a group commit that needs what a batch cannot give it (a person's lock):
    /// opened alone after the batch. Never handed out of the adapter.
    OpenAlone,
}

pub(crate) type DbResult<T> = Result<T, DbError>;

impl DbError {
    /// A row referring to one that is gone: a login that lost a race with the merge or the
    /// deletion of its account.
    pub(crate) fn is_foreign_key_violation(&self) -> bool {
        matches!(
            self,
            Self::Diesel(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::ForeignKeyViolation,
                _
            ))
        )
    }
}

impl From<diesel::result::Error> for DbError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Diesel(e)
    }
}

impl From<SealError> for DbError {
    fn from(e: SealError) -> Self {
        Self::Store(StoreError::Sealed(Cause::new(e)))
    }
}

impl From<StoreError> for DbError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl From<DbError> for StoreError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Diesel(e) => StoreError::Query(Cause::new(e)),
            DbError::Store(e) => e,
            DbError::OpenAlone => StoreError::Internal(Cause::new(OpenAloneEscaped)),
        }
    }
}

/// A login that was to be opened alone reached a caller: a bug.
#[derive(Debug, thiserror::Error)]
#[error("a batched login that needed to be opened alone was not")]
struct OpenAloneEscaped;
