//! The audit log: what happened to accounts and sessions, who did it, from where. Entries hold
//! public ids, appids, addresses and outcomes only: never a token, code, openid, session_key or
//! phone number.

use async_trait::async_trait;

use crate::StoreError;

/// What an audit entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditKind {
    /// A login, and how it ended (an error kind when it failed).
    Login,
    /// A refresh that handed out a new pair.
    Refresh,
    /// A spent refresh token presented too late: the session was ended.
    RefreshReuse,
    /// A session ended by its owner.
    Logout,
    /// Every session of an account ended by its owner.
    LogoutEverywhere,
    /// An account merged into an older one of the same person.
    Merge,
    /// An account, or one identity of it, deleted.
    Deletion,
    /// An account banned.
    Ban,
    /// An account's ban lifted.
    Unban,
    /// A session ended by an operator.
    SessionRevoked,
    /// A request to the admin API with a missing or wrong key.
    AdminUnauthorized,
    /// An operator read an account, its sessions, or the audit log (the outcome says which).
    AdminLookup,
    /// A WeChat push accepted (its event type is the outcome).
    Push,
    /// WeChat's content-security verdict on an avatar.
    ContentCheck,
    /// Given-up webhook deliveries put back by an operator.
    WebhookRetry,
}

impl AuditKind {
    /// Every kind, in the order above.
    pub const ALL: [AuditKind; 15] = [
        AuditKind::Login,
        AuditKind::Refresh,
        AuditKind::RefreshReuse,
        AuditKind::Logout,
        AuditKind::LogoutEverywhere,
        AuditKind::Merge,
        AuditKind::Deletion,
        AuditKind::Ban,
        AuditKind::Unban,
        AuditKind::SessionRevoked,
        AuditKind::AdminUnauthorized,
        AuditKind::AdminLookup,
        AuditKind::Push,
        AuditKind::ContentCheck,
        AuditKind::WebhookRetry,
    ];

    /// The name stored and answered (`snake_case`).
    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::Login => "login",
            AuditKind::Refresh => "refresh",
            AuditKind::RefreshReuse => "refresh_reuse",
            AuditKind::Logout => "logout",
            AuditKind::LogoutEverywhere => "logout_everywhere",
            AuditKind::Merge => "merge",
            AuditKind::Deletion => "deletion",
            AuditKind::Ban => "ban",
            AuditKind::Unban => "unban",
            AuditKind::SessionRevoked => "session_revoked",
            AuditKind::AdminUnauthorized => "admin_unauthorized",
            AuditKind::AdminLookup => "admin_lookup",
            AuditKind::Push => "push",
            AuditKind::ContentCheck => "content_check",
            AuditKind::WebhookRetry => "webhook_retry",
        }
    }

    /// The kind named `name`, if there is one.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The person, through their own session.
    User,
    /// An operator, through the admin API or the command line, with the key named so (a
    /// fingerprint of it, never the key).
    Admin(String),
    /// WeChat, through a push.
    WeChat,
    /// The server itself (a timer, a theft signal).
    Server,
}

impl Actor {
    /// As stored: `user`, `admin:<key>`, `wechat`, `server`.
    pub fn to_text(&self) -> String {
        match self {
            Actor::User => "user".to_owned(),
            Actor::Admin(key) => format!("admin:{key}"),
            Actor::WeChat => "wechat".to_owned(),
            Actor::Server => "server".to_owned(),
        }
    }
}

/// What a change recorded by the store is, and who made it from where: the store completes
/// the entry with the account, app and session it changed, in the change's own transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audit {
    /// Unix seconds of the change.
    pub at: i64,
    /// What the change is.
    pub kind: AuditKind,
    /// Who made it.
    pub actor: Actor,
    /// The address the request came from, if it came over the network.
    pub client_addr: Option<String>,
}

impl Audit {
    /// A change of `kind` by `actor` at `at`, with no address.
    pub fn new(kind: AuditKind, actor: Actor, at: i64) -> Self {
        Self {
            at,
            kind,
            actor,
            client_addr: None,
        }
    }

    /// The same, from `client_addr`.
    pub fn from_addr(mut self, client_addr: Option<String>) -> Self {
        self.client_addr = client_addr;
        self
    }

    /// The same, from `client` (an IPv4-mapped IPv6 address written as the IPv4 address).
    pub fn from_client(self, client: Option<std::net::IpAddr>) -> Self {
        self.from_addr(client.map(client_addr))
    }

    /// The entry this note makes for the given account, app and session.
    pub fn entry(
        &self,
        user_id: Option<&str>,
        appid: Option<&str>,
        session_id: Option<&str>,
        outcome: &str,
    ) -> AuditEntry {
        AuditEntry {
            id: 0,
            at: self.at,
            kind: self.kind,
            user_id: user_id.map(str::to_owned),
            appid: appid.map(str::to_owned),
            session_id: session_id.map(str::to_owned),
            client_addr: self.client_addr.clone(),
            outcome: outcome.to_owned(),
            actor: Some(self.actor.to_text()),
        }
    }
}

/// An address as the audit log and the session list write it: an IPv4-mapped IPv6 address as
/// the IPv4 address.
pub fn client_addr(ip: std::net::IpAddr) -> String {
    ip.to_canonical().to_string()
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Its place in the log (0 before it is written); the listing's cursor.
    pub id: i64,
    /// Unix seconds.
    pub at: i64,
    /// What happened.
    pub kind: AuditKind,
    /// The account, if one was concerned.
    pub user_id: Option<String>,
    /// The mini program, if one was concerned.
    pub appid: Option<String>,
    /// The session, if one was concerned.
    pub session_id: Option<String>,
    /// Where the request came from.
    pub client_addr: Option<String>,
    /// `ok`, or what failed (an error kind), or what was decided.
    pub outcome: String,
    /// Who did it ([`Actor::to_text`]).
    pub actor: Option<String>,
}

/// Which entries to list: all those matching every given filter, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only this account's.
    pub user_id: Option<String>,
    /// Only of this kind.
    pub kind: Option<AuditKind>,
    /// Only those after this entry id (the cursor).
    pub after: i64,
    /// At most this many.
    pub limit: usize,
}

/// The audit log, written by the store with the changes it records, and by use cases for what
/// changes nothing (a refused login, a refused admin key).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Writes an entry of its own (not part of a change).
    async fn record(&self, entry: &AuditEntry) -> Result<(), StoreError>;

    /// The entries `query` asks for.
    async fn audit_entries(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError>;

    /// Deletes at most `most` entries made before `before` (unix seconds), and says how many:
    /// called again until it deletes fewer, so no one statement holds the table long.
    async fn purge_audit(&self, before: i64, most: usize) -> Result<usize, StoreError>;
}
