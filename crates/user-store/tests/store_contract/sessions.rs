//! Sessions: opened, found, revoked, expired and purged; the current session key; what
//! authenticating a request reads; logout everywhere.

use wxlogin_domain::{SessionKey, SessionStore, StoreError};
use wxlogin_user_store::DieselStore;
use wxlogin_user_store::testing::{TestDatabase, audit_at};

use crate::support::{APP, NOW, OTHER_APP, login_through, new_session, open, openid, person};

contract!(
    a_session_is_read_with_its_user_and_the_users_apps,
    sessions_are_created_found_and_hold_the_session_key,
    a_session_for_a_missing_user_is_refused,
    revoking_ends_a_session_once,
    expiring_a_session_ends_its_lifetime_now,
    the_latest_live_session_holds_the_current_session_key,
    purging_removes_only_ended_sessions,
    every_session_of_an_account_ends_at_once;
);

async fn sessions_are_created_found_and_hold_the_session_key(store: &DieselStore) {
    let (user, _) = store
        .find_or_create_user(APP, &openid("g"), None, NOW)
        .await
        .expect("create");
    let session = store
        .create_session(&new_session(&user.id, "key-g", NOW))
        .await
        .expect("create");
    assert_eq!(session.user_id, user.id);
    assert_eq!(
        store
            .session_key(&session.id)
            .await
            .expect("query")
            .as_ref()
            .map(SessionKey::expose),
        Some("key-g")
    );
    assert_eq!(
        store.session_key("no-such-session").await.expect("query"),
        None
    );
    assert_eq!(session.revoked_at, None);
    assert_eq!(
        store.find_session(&session.id).await.expect("query"),
        Some(session.clone())
    );
    assert_eq!(
        store.find_session("no-such-session").await.expect("query"),
        None
    );
    let second = store
        .create_session(&new_session(&user.id, "key-g2", NOW))
        .await
        .expect("create");
    assert_ne!(second.id, session.id, "session ids are unique");
}

async fn a_session_for_a_missing_user_is_refused(store: &DieselStore) {
    let result = store
        .create_session(&new_session("no-such-user", "k", NOW))
        .await;
    assert!(matches!(result, Err(StoreError::Query(_))), "{result:?}");
}

async fn revoking_ends_a_session_once(store: &DieselStore) {
    let (user, _) = store
        .find_or_create_user(APP, &openid("h"), None, NOW)
        .await
        .expect("create");
    let session = store
        .create_session(&new_session(&user.id, "key-h", NOW))
        .await
        .expect("create");
    assert!(
        store
            .revoke_session(&session.id, &audit_at(NOW + 1))
            .await
            .expect("query")
    );
    assert!(
        !store
            .revoke_session(&session.id, &audit_at(NOW + 2))
            .await
            .expect("query"),
        "already ended"
    );
    assert_eq!(
        store
            .find_session(&session.id)
            .await
            .expect("query")
            .and_then(|s| s.revoked_at),
        Some(NOW + 1)
    );
    assert!(
        !store
            .revoke_session("no-such-session", &audit_at(NOW))
            .await
            .expect("query")
    );
}

async fn expiring_a_session_ends_its_lifetime_now(store: &DieselStore) {
    let (user, _) = store
        .find_or_create_user(APP, &openid("i"), None, NOW)
        .await
        .expect("create");
    let session = store
        .create_session(&new_session(&user.id, "key-i", NOW))
        .await
        .expect("create");
    assert!(!session.is_expired_at(NOW + 10));
    assert!(
        store
            .expire_session(&session.id, NOW + 10)
            .await
            .expect("query")
    );
    let expired = store
        .find_session(&session.id)
        .await
        .expect("query")
        .expect("still there");
    assert!(expired.is_expired_at(NOW + 10));
    assert!(
        !store
            .expire_session("no-such-session", NOW)
            .await
            .expect("query")
    );
}

async fn the_latest_live_session_holds_the_current_session_key(store: &DieselStore) {
    let (user, _) = store
        .find_or_create_user(APP, &openid("j"), None, NOW)
        .await
        .expect("create");
    assert_eq!(
        store
            .latest_live_session(&user.id, APP, NOW)
            .await
            .expect("query"),
        None
    );
    store
        .create_session(&new_session(&user.id, "old", NOW))
        .await
        .expect("create");
    let newest = store
        .create_session(&new_session(&user.id, "new", NOW + 5))
        .await
        .expect("create");
    assert_eq!(
        store
            .latest_live_session(&user.id, APP, NOW + 6)
            .await
            .expect("query")
            .map(|s| s.id),
        Some(newest.id.clone())
    );
    store
        .revoke_session(&newest.id, &audit_at(NOW + 7))
        .await
        .expect("revoke");
    let live = store
        .latest_live_session(&user.id, APP, NOW + 8)
        .await
        .expect("query")
        .expect("the old one");
    assert_eq!(
        store
            .session_key(&live.id)
            .await
            .expect("query")
            .as_ref()
            .map(SessionKey::expose),
        Some("old")
    );
    assert_eq!(
        store
            .latest_live_session(&user.id, APP, NOW + 3601)
            .await
            .expect("query"),
        None,
        "all expired"
    );
}

async fn purging_removes_only_ended_sessions(store: &DieselStore) {
    let (user, _) = store
        .find_or_create_user(APP, &openid("k"), None, NOW)
        .await
        .expect("create");
    let live = store
        .create_session(&new_session(&user.id, "live", NOW + 100))
        .await
        .expect("create");
    let expired = store
        .create_session(&new_session(&user.id, "expired", NOW - 7200))
        .await
        .expect("create");
    let revoked = store
        .create_session(&new_session(&user.id, "revoked", NOW))
        .await
        .expect("create");
    store
        .revoke_session(&revoked.id, &audit_at(NOW))
        .await
        .expect("revoke");
    assert_eq!(store.purge_sessions(NOW + 1).await.expect("purge"), 2);
    assert!(store.find_session(&live.id).await.expect("query").is_some());
    assert!(
        store
            .find_session(&expired.id)
            .await
            .expect("query")
            .is_none()
    );
    assert!(
        store
            .find_session(&revoked.id)
            .await
            .expect("query")
            .is_none()
    );
}

async fn every_session_of_an_account_ends_at_once(store: &DieselStore) {
    let one = login_through(store, APP, "v", Some(person("v")), NOW).await;
    let two = login_through(store, OTHER_APP, "v", Some(person("v")), NOW + 1).await;
    let bystander = login_through(store, APP, "w", None, NOW).await;
    let mut ended = store
        .revoke_all_sessions(&one.user.id, &audit_at(NOW + 5))
        .await
        .expect("revoke");
    ended.sort();
    let mut expected = vec![one.session.id.clone(), two.session.id.clone()];
    expected.sort();
    assert_eq!(ended, expected);
    for id in &expected {
        let session = store.find_session(id).await.expect("query").expect("kept");
        assert_eq!(session.revoked_at, Some(NOW + 5));
    }
    assert_eq!(
        store
            .find_session(&bystander.session.id)
            .await
            .expect("query")
            .and_then(|s| s.revoked_at),
        None
    );
    assert!(
        store
            .revoke_all_sessions(&one.user.id, &audit_at(NOW + 6))
            .await
            .expect("again")
            .is_empty()
    );
}

/// What authenticating a request reads on a cache miss: the session and its user with every
/// app of the account, together.
async fn a_session_is_read_with_its_user_and_the_users_apps(store: &DieselStore) {
    let first = login_through(store, APP, "w", Some(person("w")), NOW).await;
    let second = login_through(store, OTHER_APP, "w", Some(person("w")), NOW + 1).await;
    assert_eq!(first.user.id, second.user.id);
    let (session, user) = store
        .find_session_with_user(&second.session.id)
        .await
        .expect("query")
        .expect("found");
    assert_eq!(session, second.session);
    let user = user.expect("its user");
    assert_eq!(user.id, first.user.id);
    assert_eq!(
        user.apps,
        [APP, OTHER_APP],
        "every app, in the order they were joined"
    );
    assert_eq!(
        store
            .find_session_with_user("no-such-session")
            .await
            .expect("query"),
        None
    );
}
