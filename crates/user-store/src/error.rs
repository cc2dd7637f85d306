//! The adapter's own failures, turned into the port's [`StoreError`] at its boundary.

use wxlogin_domain::{Cause, StoreError};

use crate::SealError;

/// A failure inside the adapter: `?` turns diesel's and the sealer's errors into it, and the
/// port methods hand its [`StoreError`] out.
#[derive(Debug)]
pub(crate) struct DbError(pub(crate) StoreError);

pub(crate) type DbResult<T> = Result<T, DbError>;

impl From<diesel::result::Error> for DbError {
    fn from(e: diesel::result::Error) -> Self {
        Self(StoreError::Query(Cause::new(e)))
    }
}

impl From<SealError> for DbError {
    fn from(e: SealError) -> Self {
        Self(StoreError::Sealed(Cause::new(e)))
    }
}

impl From<StoreError> for DbError {
    fn from(e: StoreError) -> Self {
        Self(e)
    }
}

impl From<DbError> for StoreError {
    fn from(e: DbError) -> Self {
        e.0
    }
}
