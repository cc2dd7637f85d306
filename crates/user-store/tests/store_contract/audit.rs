//! The audit log and bans in the store: entries written with the changes they record, listed
//! by cursor and filter, purged by age in bounded batches; a ban that ends every session and
//! refuses the account's logins and refreshes until it is lifted.

use wxlogin_domain::{
    Actor, Audit, AuditKind, AuditLog, AuditQuery, OperatorStore, SessionStore, StoreError,
};
use wxlogin_user_store::DieselStore;
use wxlogin_user_store::testing::TestDatabase;

use crate::support::{APP, NOW, login_through, open};

contract!(
    old_entries_are_purged_in_bounded_batches_and_recent_ones_kept,
    a_ban_ends_the_sessions_and_refuses_logins_and_refreshes_until_lifted;
    a_login_waiting_on_a_ban_sees_it,
);

fn entry(at: i64, kind: AuditKind) -> wxlogin_domain::AuditEntry {
    Audit::new(kind, Actor::Server, at).entry(Some("u-audit"), Some(APP), None, "ok")
}

async fn old_entries_are_purged_in_bounded_batches_and_recent_ones_kept(store: &DieselStore) {
    for at in [100, 101, 102, 103, 104] {
        store
            .record(&entry(at, AuditKind::Logout))
            .await
            .expect("old");
    }
    store
        .record(&entry(NOW, AuditKind::Ban))
        .await
        .expect("recent");
    assert_eq!(store.purge_audit(1000, 2).await.expect("purge"), 2);
    assert_eq!(store.purge_audit(1000, 2).await.expect("purge"), 2);
    assert_eq!(store.purge_audit(1000, 2).await.expect("purge"), 1);
    assert_eq!(store.purge_audit(1000, 2).await.expect("purge"), 0);
    let left = store
        .audit_entries(&AuditQuery {
            limit: 100,
            ..AuditQuery::default()
        })
        .await
        .expect("list");
    assert_eq!(left.len(), 1);
    assert_eq!((left[0].kind, left[0].at), (AuditKind::Ban, NOW));
    let filtered = store
        .audit_entries(&AuditQuery {
            kind: Some(AuditKind::Logout),
            limit: 100,
            ..AuditQuery::default()
        })
        .await
        .expect("list");
    assert!(filtered.is_empty());
}

async fn a_ban_ends_the_sessions_and_refuses_logins_and_refreshes_until_lifted(
    store: &DieselStore,
) {
    let first = login_through(store, APP, "banned", None, NOW).await;
    let second = login_through(store, APP, "banned", None, NOW + 1).await;
    let by = Audit::new(AuditKind::Ban, Actor::Admin("key-test".into()), NOW + 2);
    let mut ended = store
        .ban(&first.user.id, "spam", &by)
        .await
        .expect("ban")
        .expect("the account exists");
    ended.sort();
    let mut expected = vec![first.session.id.clone(), second.session.id.clone()];
    expected.sort();
    assert_eq!(ended, expected);
    let refresh = Audit::new(AuditKind::Refresh, Actor::User, NOW + 3);
    assert_eq!(
        store
            .rotate_refresh(&second.session.id, 0, &refresh)
            .await
            .expect("rotate"),
        None
    );
    let state = store
        .find_refresh_state(&second.session.id)
        .await
        .expect("state")
        .expect("kept");
    assert!(state.user_disabled);
    let again = crate::support::try_login_through(store, APP, "banned", NOW + 4).await;
    assert!(
        matches!(again, Err(StoreError::AccountDisabled)),
        "{again:?}"
    );
    assert!(
        store
            .unban(
                &first.user.id,
                &Audit::new(AuditKind::Unban, Actor::Server, NOW + 5)
            )
            .await
            .expect("unban")
    );
    let back = login_through(store, APP, "banned", None, NOW + 6).await;
    assert_eq!(back.user.id, first.user.id);
    let kinds: Vec<AuditKind> = store
        .audit_entries(&AuditQuery {
            user_id: Some(first.user.id.clone()),
            limit: 100,
            ..AuditQuery::default()
        })
        .await
        .expect("list")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    for kind in [AuditKind::Login, AuditKind::Ban, AuditKind::Unban] {
        assert!(kinds.contains(&kind), "{kind:?} in {kinds:?}");
    }
    assert_eq!(
        store.ban("no-such-account", "x", &by).await.expect("ban"),
        None
    );
}

/// On PostgreSQL: a returning user's login that reaches the account while a ban holds its row
/// waits for the ban, then sees it (no session the ban could not end). The ban is played by
/// hand, holding the row as the store's ban does, so the login is sure to be waiting.
async fn a_login_waiting_on_a_ban_sees_it(db: &TestDatabase) {
    use diesel::Connection;
    use diesel::connection::SimpleConnection;
    if db.url().starts_with("sqlite") {
        // One process, one write turn: a ban and a login cannot interleave.
        return;
    }
    let store = open(db).await;
    let known = login_through(&store, APP, "racer", None, NOW).await;
    let mut ban = diesel::PgConnection::establish(db.url()).expect("connect");
    ban.batch_execute(&format!(
        "BEGIN; SELECT id FROM users WHERE id = '{id}' FOR UPDATE; \
         UPDATE users SET disabled_at = {at}, disabled_reason = 'race' WHERE id = '{id}';",
        id = known.user.id,
        at = NOW + 1
    ))
    .expect("the ban holds the row");
    let login = {
        let store = std::sync::Arc::new(store);
        let racing = std::sync::Arc::clone(&store);
        let handle = tokio::spawn(async move {
            crate::support::try_login_through(&racing, APP, "racer", NOW + 2).await
        });
        // Long enough for the login to reach the row and wait on it.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(!handle.is_finished(), "the login waits for the ban");
        ban.batch_execute("COMMIT").expect("the ban commits");
        handle.await.expect("joined")
    };
    assert!(
        matches!(login, Err(StoreError::AccountDisabled)),
        "{login:?}"
    );
}
