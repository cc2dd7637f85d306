//! The rounds a running server makes on its own: purging what has served its time (login
//! codes, told revocations, ended sessions) and deleting avatar files no account shows.

use std::sync::Arc;

use wxlogin_core::LoginService;

/// How often the short-lived records are purged: the login codes (a login writes one, and the
/// table is meant to hold about a minute of logins) and the ends the revocation feed tells.
const SHORT_LIVED_PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Deletes, every few seconds, the records of login codes past the replay window and the ends
/// of sessions whose tokens have all expired.
pub(crate) async fn purge_short_lived(service: Arc<LoginService>) {
    loop {
        actix_web::rt::time::sleep(SHORT_LIVED_PURGE_EVERY).await;
        if let Err(e) = service.purge_spent_login_codes().await {
            log::warn!(
                "purging spent login codes failed: {}",
                wxlogin_domain::error_chain(&e)
            );
        }
        if let Err(e) = service.purge_told_revocations().await {
            log::warn!(
                "purging the revocation feed failed: {}",
                wxlogin_domain::error_chain(&e)
            );
        }
    }
}

/// Deletes ended sessions `after` seconds after they end, looking as often (at most hourly).
pub(crate) async fn purge_sessions(service: Arc<LoginService>, after: i64) {
    let every = std::time::Duration::from_secs(after.clamp(1, 3600).unsigned_abs());
    loop {
        actix_web::rt::time::sleep(every).await;
        match service.purge_ended_sessions(after).await {
            Ok(0) => {}
            Ok(purged) => log::info!("purged {purged} sessions that ended over {after} s ago"),
            Err(e) => log::warn!(
                "purging ended sessions failed: {}",
                wxlogin_domain::error_chain(&e)
            ),
        }
    }
}

/// How often files that a failure left behind are looked for. Every change that leaves one
/// deletes it at once; this catches the rest (a store down at that moment, a crash).
const COLLECT_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Deletes, every minute, the files no account shows that are still stored.
pub(crate) async fn collect_unused_media(service: Arc<LoginService>) {
    loop {
        actix_web::rt::time::sleep(COLLECT_EVERY).await;
        match service.collect_unused_media().await {
            Ok(0) => {}
            Ok(n) => log::info!("deleted {n} avatar files no account shows"),
            Err(e) => log::warn!(
                "collecting unused avatar files failed: {}",
                wxlogin_domain::error_chain(&e)
            ),
        }
    }
}

/// How often audit entries past their retention are deleted (the first time soon after start).
const AUDIT_PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);
const AUDIT_PURGE_FIRST: std::time::Duration = std::time::Duration::from_secs(30);

/// Deletes, hourly, the audit entries older than `retention_days`, in bounded batches.
pub(crate) async fn purge_audit(admin: wxlogin_core::AdminService, retention_days: i64) {
    actix_web::rt::time::sleep(AUDIT_PURGE_FIRST).await;
    loop {
        match admin.purge_audit(retention_days).await {
            Ok(0) => {}
            Ok(n) => log::info!("deleted {n} audit entries older than {retention_days} days"),
            Err(e) => log::warn!(
                "purging the audit log failed: {}",
                wxlogin_domain::error_chain(&e)
            ),
        }
        actix_web::rt::time::sleep(AUDIT_PURGE_EVERY).await;
    }
}
