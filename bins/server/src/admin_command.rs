//! `wxlogin-server admin ...`: the admin API's operations from the command line, for
//! operators without an HTTP client at hand, through the same use cases
//! ([`wxlogin_core::AdminService`]) on the configured database. Other instances hear of each
//! change through the store's change feed, as they do of the admin API's.

use std::sync::Arc;

use anyhow::{Context, bail};
use wxlogin_core::{AdminService, Operator};
use wxlogin_domain::{AuditKind, AuditQuery, SystemClock};

use crate::config::Config;
use crate::database::open_store;

/// What `admin` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminCommand {
    /// Show an account.
    User(String),
    /// Ban an account, with a reason.
    Ban(String, String),
    /// Lift an account's ban.
    Unban(String),
    /// List an account's sessions.
    Sessions(String),
    /// End one session.
    Revoke(String),
    /// Delete an account.
    Delete(String),
    /// The audit log, oldest first: optionally one account's, after an entry id.
    Audit {
        /// Only this account's.
        user: Option<String>,
        /// After this entry.
        after: i64,
    },
}

/// The usage line of `admin`.
pub const ADMIN_USAGE: &str = "admin user <id> | admin ban <id> <reason...> | admin unban <id>
       | admin sessions <id> | admin revoke <session id> | admin delete <id>
       | admin audit [<user id>] [--after <entry id>]";

impl AdminCommand {
    /// The command `args` (after `admin`) name.
    pub fn parse(args: &[String]) -> Option<Self> {
        let (first, rest) = args.split_first()?;
        let one = |rest: &[String]| match rest {
            [id] => Some(id.clone()),
            _ => None,
        };
        Some(match first.as_str() {
            "user" => Self::User(one(rest)?),
            "ban" => match rest {
                [id, reason @ ..] if !reason.is_empty() => Self::Ban(id.clone(), reason.join(" ")),
                _ => return None,
            },
            "unban" => Self::Unban(one(rest)?),
            "sessions" => Self::Sessions(one(rest)?),
            "revoke" => Self::Revoke(one(rest)?),
            "delete" => Self::Delete(one(rest)?),
            "audit" => {
                let (mut user, mut after) = (None, 0);
                let mut rest = rest.iter();
                while let Some(arg) = rest.next() {
                    if arg == "--after" {
                        after = rest.next()?.parse().ok()?;
                    } else if user.is_none() {
                        user = Some(arg.clone());
                    } else {
                        return None;
                    }
                }
                Self::Audit { user, after }
            }
            _ => return None,
        })
    }

    /// Runs it against the configured database, writing JSON lines to stdout. Changes are
    /// recorded in the audit log as made by `admin:cli:<user>` (the OS user running it).
    pub async fn run(&self, config: &Config) -> anyhow::Result<()> {
        let store = open_store(config).await?;
        let admin = AdminService::new(Arc::new(store), Arc::new(SystemClock));
        let by = Operator {
            key: format!(
                "cli:{}",
                std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned())
            ),
            client: None,
        };
        let found = |found: bool, what: &str| -> anyhow::Result<()> {
            if found {
                Ok(())
            } else {
                bail!("no such {what}")
            }
        };
        match self {
            Self::User(id) => {
                let user = admin.user(&by, id).await?.context("no such account")?;
                println!("{}", user_line(&user));
            }
            Self::Ban(id, reason) => {
                found(admin.ban(&by, id, reason).await?, "account")?;
                println!("banned {id}: its sessions are ended on every instance");
            }
            Self::Unban(id) => {
                found(admin.unban(&by, id).await?, "account")?;
                println!("unbanned {id}: it may log in again");
            }
            Self::Sessions(id) => {
                for info in admin.sessions(&by, id).await? {
                    println!(
                        "{}",
                        serde_json::json!({
                            "id": info.session.id, "appid": info.session.appid,
                            "createdAt": info.session.created_at,
                            "expiresAt": info.session.expires_at,
                            "revokedAt": info.session.revoked_at,
                            "lastRefreshedAt": info.refreshed_at,
                            "clientAddr": info.client_addr,
                        })
                    );
                }
            }
            Self::Revoke(sid) => {
                found(admin.revoke_session(&by, sid).await?, "live session")?;
                println!("ended session {sid}");
            }
            Self::Delete(id) => {
                found(admin.delete_user(&by, id).await?, "account")?;
                println!("deleted {id}");
            }
            Self::Audit { user, after } => {
                let entries = admin
                    .audit(
                        &by,
                        &AuditQuery {
                            user_id: user.clone(),
                            kind: None::<AuditKind>,
                            after: *after,
                            limit: 1000,
                        },
                    )
                    .await?;
                for e in entries {
                    println!(
                        "{}",
                        serde_json::json!({
                            "id": e.id, "at": e.at, "kind": e.kind.as_str(), "userId": e.user_id,
                            "appid": e.appid, "sessionId": e.session_id,
                            "clientAddr": e.client_addr, "outcome": e.outcome, "actor": e.actor,
                        })
                    );
                }
            }
        }
        Ok(())
    }
}

fn user_line(user: &wxlogin_domain::User) -> serde_json::Value {
    serde_json::json!({
        "id": user.id, "nickName": user.nick_name, "apps": user.apps,
        "createdAt": user.created_at, "updatedAt": user.updated_at,
        "status": if user.is_disabled() { "disabled" } else { "active" },
        "disabledAt": user.disabled_at, "disabledReason": user.disabled_reason,
    })
}
