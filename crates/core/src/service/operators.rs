//! What operators do: find an account, ban and unban it, list and end its sessions, delete it,
//! read the audit log. Each change is recorded in the audit log by the store, in the change's
//! own transaction, with the key that made it.

use std::net::IpAddr;

use std::sync::Arc;

use wxlogin_domain::{
    Actor, Audit, AuditEntry, AuditKind, AuditLog, AuditQuery, Clock, OpenId, OperatorStore,
    SessionInfo, SessionStore, User, UserStore,
};

use crate::cache::SessionCache;

use super::LoginService;
use crate::{CoreError, ErrorKind};

/// The most audit entries one purge statement deletes: a retention purge never holds the
/// table for long, however far behind it is.
pub const AUDIT_PURGE_BATCH: usize = 5000;

/// The longest ban reason kept.
pub const MAX_BAN_REASON_CHARS: usize = 500;

/// An operator, as the audit log names them: a fingerprint of their key, never the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// The key's fingerprint.
    pub key: String,
    /// Where the request came from, if over the network.
    pub client: Option<IpAddr>,
}

impl Operator {
    fn audit(&self, kind: AuditKind, at: i64) -> Audit {
        Audit::new(kind, Actor::Admin(self.key.clone()), at).from_client(self.client)
    }
}

/// The operators' use cases, over the store's ports only: what the admin API and the command
/// line both call. From a running service ([`LoginService::admin`]) it also drops what it
/// changes from that service's session cache at once (other instances hear it through the
/// store's change feed); on its own ([`AdminService::new`], the command line) it needs none.
#[derive(Clone)]
pub struct AdminService {
    users: Arc<dyn UserStore>,
    sessions: Arc<dyn SessionStore>,
    operators: Arc<dyn OperatorStore>,
    audit: Arc<dyn AuditLog>,
    clock: Arc<dyn Clock>,
    cache: Option<Arc<SessionCache>>,
}

impl std::fmt::Debug for AdminService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminService").finish_non_exhaustive()
    }
}

impl LoginService {
    /// The operators' use cases on this service's store and cache; `None` when the service was
    /// built without an audit log or an operators' port.
    pub fn admin(&self) -> Option<AdminService> {
        Some(AdminService {
            users: Arc::clone(&self.users),
            sessions: Arc::clone(&self.sessions),
            operators: Arc::clone(self.operators.as_ref()?),
            audit: Arc::clone(self.audit.as_ref()?),
            clock: Arc::clone(&self.clock),
            cache: Some(Arc::clone(&self.cache)),
        })
    }

    /// Records something that changed nothing (a refused login): best effort, logged when the
    /// audit log cannot be written.
    pub(super) async fn record_alone(&self, entry: AuditEntry) {
        if let Some(audit) = &self.audit {
            record_best_effort(audit.as_ref(), &entry).await;
        }
    }
}

async fn record_best_effort(audit: &dyn AuditLog, entry: &AuditEntry) {
    if let Err(e) = audit.record(entry).await {
        log::warn!(
            "an audit entry ({}) could not be written: {}",
            entry.kind.as_str(),
            wxlogin_domain::error_chain(&e)
        );
    }
}

impl AdminService {
    /// The operators' use cases on one store that implements every port it needs, with no
    /// session cache (the command line's).
    pub fn new<S>(store: Arc<S>, clock: Arc<dyn Clock>) -> Self
    where
        S: UserStore + SessionStore + OperatorStore + AuditLog + 'static,
    {
        Self {
            users: store.clone(),
            sessions: store.clone(),
            operators: store.clone(),
            audit: store,
            clock,
            cache: None,
        }
    }

    fn forget_all(&self, user_id: &str, sessions: &[String]) {
        if let Some(cache) = &self.cache {
            cache.forget_all(user_id, sessions);
        }
    }

    /// The account with this id, as operators see it (its ban included).
    pub async fn user(&self, by: &Operator, id: &str) -> Result<Option<User>, CoreError> {
        let user = self.users.find_user(id).await?;
        self.looked_up(by, Some(id), "account").await;
        Ok(user)
    }

    /// The account of identity (`appid`, `openid`): how support finds a person from a
    /// complaint. The openid is never answered.
    pub async fn find_by_identity(
        &self,
        by: &Operator,
        appid: &str,
        openid: &str,
    ) -> Result<Option<User>, CoreError> {
        let openid = OpenId::new(openid);
        let user = self.users.find_by_identity(appid, &openid).await?;
        // The account found (never the openid asked with).
        let found = user.as_ref().map(|u| u.id.as_str());
        self.looked_up(by, found, "account by identity").await;
        Ok(user)
    }

    /// Bans the account: its sessions end on every instance (their tokens refused, the
    /// revocation feed told), its logins and refreshes are refused until it is unbanned.
    /// `false` if there is no such account.
    pub async fn ban(&self, by: &Operator, user_id: &str, reason: &str) -> Result<bool, CoreError> {
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > MAX_BAN_REASON_CHARS {
            return Err(CoreError::InvalidProfile(format!(
                "a ban's reason must be 1 to {MAX_BAN_REASON_CHARS} characters"
            )));
        }
        let audit = by.audit(AuditKind::Ban, self.clock.now());
        let Some(ended) = self.operators.ban(user_id, reason, &audit).await? else {
            return Ok(false);
        };
        self.forget_all(user_id, &ended);
        log::info!(
            "account {user_id} banned by key {}; {} sessions ended",
            by.key,
            ended.len()
        );
        Ok(true)
    }

    /// Lifts the account's ban: it may log in again (its ended sessions stay ended). `false`
    /// if there is no such account.
    pub async fn unban(&self, by: &Operator, user_id: &str) -> Result<bool, CoreError> {
        let audit = by.audit(AuditKind::Unban, self.clock.now());
        let found = self.operators.unban(user_id, &audit).await?;
        if found {
            self.forget_all(user_id, &[]);
            log::info!("account {user_id} unbanned by key {}", by.key);
        }
        Ok(found)
    }

    /// The account's sessions, newest first.
    pub async fn sessions(
        &self,
        by: &Operator,
        user_id: &str,
    ) -> Result<Vec<SessionInfo>, CoreError> {
        let sessions = self.operators.sessions_of(user_id).await?;
        self.looked_up(by, Some(user_id), "sessions").await;
        Ok(sessions)
    }

    /// Ends one session on every instance, as its owner's logout does; `false` if there is no
    /// such session or it had ended.
    pub async fn revoke_session(&self, by: &Operator, session_id: &str) -> Result<bool, CoreError> {
        let audit = by.audit(AuditKind::SessionRevoked, self.clock.now());
        let forget = || {
            if let Some(cache) = &self.cache {
                cache.forget_session(session_id);
            }
        };
        // As a logout does: before (no read serves it meanwhile) and after (none put it back).
        forget();
        let ended = self.sessions.revoke_session(session_id, &audit).await?;
        forget();
        Ok(ended)
    }

    /// Deletes the account and everything attached to it, as its owner's deletion does,
    /// without re-authentication; `false` if there is no such account.
    pub async fn delete_user(&self, by: &Operator, user_id: &str) -> Result<bool, CoreError> {
        let audit = by.audit(AuditKind::Deletion, self.clock.now());
        let Some(deleted) = self.operators.delete_user(user_id, &audit).await? else {
            return Ok(false);
        };
        self.forget_all(&deleted.user_id, &deleted.ended_sessions);
        // Its uploaded files are collected by the service's next collection (within a minute).
        log::info!("account {user_id} deleted by key {}", by.key);
        Ok(true)
    }

    /// The audit entries `query` asks for (none without an audit log).
    pub async fn audit(
        &self,
        by: &Operator,
        query: &AuditQuery,
    ) -> Result<Vec<AuditEntry>, CoreError> {
        let entries = self.audit.audit_entries(query).await?;
        self.looked_up(by, query.user_id.as_deref(), "audit log")
            .await;
        Ok(entries)
    }

    /// Records that `by` read `what` (of `user_id`, if an account's).
    async fn looked_up(&self, by: &Operator, user_id: Option<&str>, what: &str) {
        self.record_action(by, AuditKind::AdminLookup, user_id, what)
            .await;
    }

    /// Records an operator's action on something the other use cases do not hold (the
    /// webhook outbox: a read of its failures, a retry): best effort, on its own.
    pub async fn record_action(
        &self,
        by: &Operator,
        kind: AuditKind,
        user_id: Option<&str>,
        outcome: &str,
    ) {
        let entry = by
            .audit(kind, self.clock.now())
            .entry(user_id, None, None, outcome);
        record_best_effort(self.audit.as_ref(), &entry).await;
    }

    /// Deletes the audit entries older than `retention_days`, in batches of
    /// [`AUDIT_PURGE_BATCH`], and says how many: run it on a schedule (any instance may).
    pub async fn purge_audit(&self, retention_days: i64) -> Result<usize, CoreError> {
        let before = self
            .clock
            .now()
            .saturating_sub(retention_days.max(1).saturating_mul(86_400));
        let mut purged = 0;
        loop {
            let batch = self.audit.purge_audit(before, AUDIT_PURGE_BATCH).await?;
            purged += batch;
            if batch < AUDIT_PURGE_BATCH {
                return Ok(purged);
            }
            // Other writers get their turn between batches.
            tokio::task::yield_now().await;
        }
    }

    /// Records a request to the admin API refused for its key.
    pub async fn record_refused_key(&self, client: Option<IpAddr>) {
        let entry = Audit::new(
            AuditKind::AdminUnauthorized,
            Actor::Admin("unknown".to_owned()),
            self.clock.now(),
        )
        .from_client(client)
        .entry(None, None, None, "refused");
        record_best_effort(self.audit.as_ref(), &entry).await;
    }
}

/// An error kind as the audit log records it (`invalid_code`, `account_disabled`...).
pub(crate) fn outcome_of(kind: ErrorKind) -> String {
    // `WeChat` is one word: `wechat_unavailable`.
    let name = format!("{kind:?}").replace("WeChat", "Wechat");
    let mut snake = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                snake.push('_');
            }
            snake.push(c.to_ascii_lowercase());
        } else {
            snake.push(c);
        }
    }
    snake
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_are_snake_case_kinds() {
        assert_eq!(outcome_of(ErrorKind::InvalidCode), "invalid_code");
        assert_eq!(outcome_of(ErrorKind::AccountDisabled), "account_disabled");
        assert_eq!(
            outcome_of(ErrorKind::WeChatUnavailable),
            "wechat_unavailable"
        );
    }
}
