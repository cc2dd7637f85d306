//! Webhooks: which changes other systems hear of, which endpoints want which, and the outbox
//! the store records them in with the change itself, for a dispatcher to deliver.

use async_trait::async_trait;

use crate::{AuditEntry, AuditKind, StoreError};

/// The event types an endpoint may ask for, as the contract names them.
pub const WEBHOOK_EVENT_TYPES: [&str; 7] = [
    "user.created",
    "user.merged",
    "user.deleted",
    "user.banned",
    "user.unbanned",
    "session.revoked",
    "avatar.rejected",
];

/// An event for other systems, drawn from the audit entry of the change that raised it.
/// Public ids only: never an openid, a session secret or a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEvent {
    /// One of [`WEBHOOK_EVENT_TYPES`].
    pub event_type: &'static str,
    /// Unix seconds of the change.
    pub at: i64,
    /// The account the event is about: deliveries of one account keep their order.
    pub user_id: Option<String>,
    /// The mini program concerned, if one was.
    pub appid: Option<String>,
    /// The session concerned (`session.revoked`; none when every session of the account ended).
    pub session_id: Option<String>,
    /// Why (`session.revoked`: `logout`, `logout_everywhere`, `operator`, `refresh_reuse`,
    /// `ban`).
    pub reason: Option<&'static str>,
    /// The account merged into `user_id` (`user.merged`).
    pub merged_user_id: Option<String>,
    /// Who made the change (`user`, `admin:<key>`, `wechat`, `server`).
    pub actor: Option<String>,
}

impl WebhookEvent {
    /// The event an audited change raises, if any: a created account, a merge, a whole
    /// account's deletion, a ban or unban, an ended session. An avatar's rejection has no
    /// audit entry of its own in the change's transaction: see [`WebhookEvent::avatar_rejected`].
    pub fn of(entry: &AuditEntry) -> Option<Self> {
        let (event_type, reason) = match entry.kind {
            AuditKind::Login if entry.outcome == "created" => ("user.created", None),
            AuditKind::Merge => ("user.merged", None),
            AuditKind::Deletion if entry.outcome == "account deleted" => ("user.deleted", None),
            // A banned account's session that a login slipped past the ban, ended when it was
            // next used: the ban was told already.
            AuditKind::Ban if entry.actor.as_deref() == Some("server") => {
                ("session.revoked", Some("ban"))
            }
            AuditKind::Ban => ("user.banned", None),
            AuditKind::Unban => ("user.unbanned", None),
            AuditKind::Logout => ("session.revoked", Some("logout")),
            AuditKind::LogoutEverywhere => ("session.revoked", Some("logout_everywhere")),
            AuditKind::SessionRevoked => ("session.revoked", Some("operator")),
            AuditKind::RefreshReuse => ("session.revoked", Some("refresh_reuse")),
            _ => return None,
        };
        let merged_user_id = match entry.kind {
            AuditKind::Merge => entry.outcome.strip_prefix("merged ").map(str::to_owned),
            _ => None,
        };
        Some(Self {
            event_type,
            at: entry.at,
            user_id: entry.user_id.clone(),
            appid: entry.appid.clone(),
            session_id: entry.session_id.clone(),
            reason,
            merged_user_id,
            actor: entry.actor.clone(),
        })
    }

    /// `avatar.rejected`: WeChat's content security found the account's avatar risky, and it
    /// was taken down.
    pub fn avatar_rejected(user_id: &str, at: i64) -> Self {
        Self {
            event_type: "avatar.rejected",
            at,
            user_id: Some(user_id.to_owned()),
            appid: None,
            session_id: None,
            reason: None,
            merged_user_id: None,
            actor: Some("wechat".to_owned()),
        }
    }
}

/// Which endpoints want which event types (`WEBHOOKS_FILE`), as the store needs it to record
/// one delivery per endpoint in the change's transaction. Empty: nothing is recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookRoutes {
    endpoints: Vec<(String, Vec<String>)>,
}

impl WebhookRoutes {
    /// Routes to endpoints given as (the endpoint's key, the event types it wants).
    pub fn new(endpoints: Vec<(String, Vec<String>)>) -> Self {
        Self { endpoints }
    }

    /// Whether no endpoint is configured.
    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty()
    }

    /// The keys of the endpoints that want `event_type`.
    pub fn endpoints_for<'a>(&'a self, event_type: &'a str) -> impl Iterator<Item = &'a str> {
        self.endpoints
            .iter()
            .filter(move |(_, types)| types.iter().any(|t| t == event_type))
            .map(|(key, _)| key.as_str())
    }
}

/// One event for one endpoint, as the outbox keeps it until it is delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    /// Its place in the outbox (the admin API's id).
    pub id: i64,
    /// The Standard Webhooks `webhook-id`: `msg_` and a random UUID, drawn when the event was
    /// recorded and the same on every attempt (a receiver drops what it has seen), never the
    /// same for two events, whatever database or deployment they came from.
    pub message_id: String,
    /// The endpoint's key.
    pub endpoint: String,
    /// The account it is about.
    pub user_id: Option<String>,
    /// One of [`WEBHOOK_EVENT_TYPES`].
    pub event_type: String,
    /// The JSON body, as signed and sent.
    pub payload: String,
    /// Unix seconds it was recorded.
    pub created_at: i64,
    /// Attempts made, this one included once claimed (since the last retry by an operator).
    pub attempts: u32,
    /// Unix seconds from which a failing delivery has 24 hours: its recording, or its last
    /// retry by an operator.
    pub window_start: i64,
    /// Until when the claim that handed it out holds it: settling it names this claim, so a
    /// claim that outlived its lease (and was claimed again elsewhere) settles nothing.
    pub leased_until: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// Unix seconds it was given up, if it was.
    pub failed_at: Option<i64>,
}

/// How many deliveries wait and how many were given up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    /// Waiting for a first or a further attempt.
    pub pending: u64,
    /// Given up after 24 hours of failures, kept for an operator.
    pub failed: u64,
}

/// The most failed deliveries one retry of them all puts back: a dead endpoint's day of
/// events does not all fall due at once.
pub const MOST_RETRIED_AT_ONCE: usize = 10_000;

/// The outbox's port, for the dispatchers and the operators.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait WebhookOutbox: Send + Sync {
    /// Claims up to `most` deliveries to `endpoint` due at `now`, for `lease_secs`, counting an
    /// attempt for each: none another claim holds, none given up, and for each account only
    /// the oldest waiting one (an account's events arrive in order). A claim not settled
    /// before its lease ends is claimed again (at least once).
    async fn claim_deliveries(
        &self,
        endpoint: &str,
        now: i64,
        lease_secs: i64,
        most: usize,
    ) -> Result<Vec<WebhookDelivery>, StoreError>;

    /// The receiver took them: they leave the outbox, all at once (each unless its claim was
    /// lost to another).
    async fn delivered(&self, deliveries: &[WebhookDelivery]) -> Result<(), StoreError>;

    /// The attempt failed with `error`: tried again at `retry_at`, the account's newer
    /// deliveries to the endpoint not before it; or given up (kept as failed) when `None`.
    /// Nothing if the claim was lost to another.
    async fn attempt_failed(
        &self,
        delivery: &WebhookDelivery,
        error: &str,
        retry_at: Option<i64>,
        now: i64,
    ) -> Result<(), StoreError>;

    /// Gives up the deliveries to endpoints not in `known` recorded before `recorded_before`
    /// (an endpoint removed from every instance's file: nobody will send them); how many.
    async fn give_up_unrouted(
        &self,
        known: &[String],
        recorded_before: i64,
        now: i64,
    ) -> Result<u64, StoreError>;

    /// Given-up deliveries with an id above `after`, oldest first, at most `limit`.
    async fn failed_deliveries(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<WebhookDelivery>, StoreError>;

    /// Puts given-up deliveries back (`id`, or the oldest [`MOST_RETRIED_AT_ONCE`] when
    /// `None`) to be tried at `now` for another 24 hours; how many.
    async fn retry_failed(&self, id: Option<i64>, now: i64) -> Result<u64, StoreError>;

    /// Deletes up to `most` deliveries given up before `failed_before`; how many.
    async fn purge_failed(&self, failed_before: i64, most: usize) -> Result<u64, StoreError>;

    /// How many wait and how many were given up.
    async fn outbox_counts(&self) -> Result<OutboxCounts, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Actor, Audit};

    fn entry(kind: AuditKind, outcome: &str) -> AuditEntry {
        Audit::new(kind, Actor::User, 100).entry(Some("u1"), Some("wxapp"), Some("s1"), outcome)
    }

    #[test]
    fn changes_raise_the_contracts_events_and_reads_raise_none() {
        let of = |kind, outcome| WebhookEvent::of(&entry(kind, outcome)).map(|e| e.event_type);
        assert_eq!(of(AuditKind::Login, "created"), Some("user.created"));
        assert_eq!(
            of(AuditKind::Login, "ok"),
            None,
            "a returning login is no event"
        );
        assert_eq!(of(AuditKind::Login, "invalid_code"), None);
        assert_eq!(
            of(AuditKind::Deletion, "account deleted"),
            Some("user.deleted")
        );
        assert_eq!(of(AuditKind::Deletion, "identity deleted"), None);
        assert_eq!(of(AuditKind::Ban, "sessions ended: 2"), Some("user.banned"));
        assert_eq!(of(AuditKind::Unban, "ok"), Some("user.unbanned"));
        assert_eq!(of(AuditKind::Refresh, "ok"), None);
        assert_eq!(of(AuditKind::AdminLookup, "user"), None);
        assert_eq!(of(AuditKind::Push, "user_authorization_revoke"), None);
    }

    #[test]
    fn an_ended_session_says_why_and_a_merge_names_the_merged_account() {
        let logout = WebhookEvent::of(&entry(AuditKind::LogoutEverywhere, "sessions ended: 3"));
        assert_eq!(logout.map(|e| e.reason), Some(Some("logout_everywhere")));
        let merge = WebhookEvent::of(&entry(AuditKind::Merge, "merged u0")).expect("an event");
        assert_eq!(
            (merge.event_type, merge.merged_user_id.as_deref()),
            ("user.merged", Some("u0"))
        );
    }

    #[test]
    fn a_leftover_session_of_a_banned_account_ended_later_is_no_second_ban() {
        let late = Audit::new(AuditKind::Ban, Actor::Server, 100).entry(
            Some("u1"),
            None,
            Some("s9"),
            "ok",
        );
        let event = WebhookEvent::of(&late).expect("an event");
        assert_eq!(
            (event.event_type, event.reason, event.session_id.as_deref()),
            ("session.revoked", Some("ban"), Some("s9"))
        );
    }

    #[test]
    fn routes_name_the_endpoints_that_want_a_type() {
        let routes = WebhookRoutes::new(vec![
            ("https://a/".into(), vec!["user.deleted".into()]),
            (
                "https://b/".into(),
                vec!["user.deleted".into(), "user.created".into()],
            ),
        ]);
        let wanting = |t| routes.endpoints_for(t).collect::<Vec<_>>();
        assert_eq!(wanting("user.deleted"), ["https://a/", "https://b/"]);
        assert_eq!(wanting("user.created"), ["https://b/"]);
        assert!(wanting("user.banned").is_empty());
        assert!(WebhookRoutes::default().is_empty());
    }
}
