//! The operators' side: `ADMIN_BIND_ADDR`, `ADMIN_API_KEYS_FILE`, `AUDIT_RETENTION_DAYS`.

use std::net::SocketAddr;

use super::vars::Vars;
use crate::admin::AdminKeys;

/// How long audit entries are kept by default (contract v3).
pub const DEFAULT_AUDIT_RETENTION_DAYS: i64 = 90;

/// The admin API and the audit log's retention.
#[derive(Debug, Clone)]
pub struct AdminConfig {
    /// Where the admin API listens (a listener of its own); none when unset.
    pub bind_addr: Option<SocketAddr>,
    /// The keys it takes, read once from `ADMIN_API_KEYS_FILE`.
    pub keys: AdminKeys,
    /// Days audit entries are kept before they are deleted.
    pub audit_retention_days: i64,
}

pub(super) fn admin_config(dev: bool, vars: &mut Vars<'_>, bind_addr: SocketAddr) -> AdminConfig {
    let audit_retention_days = vars.number(
        "AUDIT_RETENTION_DAYS",
        DEFAULT_AUDIT_RETENTION_DAYS,
        1..=36_500,
    );
    let keys = match vars.get("ADMIN_API_KEYS_FILE") {
        None => AdminKeys::default(),
        Some(path) => match std::fs::read_to_string(path.trim()) {
            Ok(text) => match AdminKeys::parse(&text) {
                Ok(keys) => keys,
                Err(problem) => {
                    vars.problem(format!("ADMIN_API_KEYS_FILE {path}: {problem}"));
                    AdminKeys::default()
                }
            },
            Err(e) => {
                vars.problem(format!("ADMIN_API_KEYS_FILE {path} cannot be read: {e}"));
                AdminKeys::default()
            }
        },
    };
    let bind_addr = match vars.get("ADMIN_BIND_ADDR") {
        None => None,
        Some(text) => match text.trim().parse::<SocketAddr>() {
            Ok(parsed) if parsed == bind_addr && parsed.port() != 0 => {
                vars.problem(format!(
                    "ADMIN_BIND_ADDR {parsed} is BIND_ADDR: the admin API is served on a \
                     listener of its own, never the public one"
                ));
                None
            }
            Ok(parsed) if dev && !parsed.ip().is_loopback() => {
                vars.problem(format!(
                    "ADMIN_BIND_ADDR {parsed} is not a loopback address, but --dev listens on \
                     this machine only: use 127.0.0.1 or drop --dev"
                ));
                None
            }
            Ok(parsed) => Some(parsed),
            Err(_) => {
                vars.problem(format!(
                    "ADMIN_BIND_ADDR {text:?} is not an address like 127.0.0.1:9091"
                ));
                None
            }
        },
    };
    if bind_addr.is_some() && keys.is_empty() {
        vars.problem(
            "ADMIN_BIND_ADDR is set but ADMIN_API_KEYS_FILE names no key: every admin request \
             would be refused",
        );
    }
    AdminConfig {
        bind_addr,
        keys,
        audit_retention_days,
    }
}
