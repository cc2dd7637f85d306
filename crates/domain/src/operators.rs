//! What operators do to accounts and sessions that people cannot do themselves: bans, a
//! session list, a deletion without re-authentication.

use async_trait::async_trait;

use crate::{Audit, Deletion, Session, StoreError};

/// A session as an operator lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The session.
    pub session: Session,
    /// Unix seconds of its last refresh, if any.
    pub refreshed_at: Option<i64>,
    /// The address of the login that opened it, if known.
    pub client_addr: Option<String>,
}

/// The operators' port: one adapter implements it with the other stores.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait OperatorStore: Send + Sync {
    /// Bans the account: marks it disabled with `reason` (a ban of a banned account keeps its
    /// first time and takes the new reason) and ends every live session of it, announcing
    /// them, with the audit entry, in one transaction. The sessions it ended; `None` if there
    /// is no such account.
    async fn ban(
        &self,
        user_id: &str,
        reason: &str,
        audit: &Audit,
    ) -> Result<Option<Vec<String>>, StoreError>;

    /// Lifts the account's ban (its ended sessions stay ended); `false` if there is no such
    /// account.
    async fn unban(&self, user_id: &str, audit: &Audit) -> Result<bool, StoreError>;

    /// Every session of the account the store still holds, newest first.
    async fn sessions_of(&self, user_id: &str) -> Result<Vec<SessionInfo>, StoreError>;

    /// Deletes the account and everything attached to it, as its owner's deletion does;
    /// `None` if there is no such account.
    async fn delete_user(
        &self,
        user_id: &str,
        audit: &Audit,
    ) -> Result<Option<Deletion>, StoreError>;
}
