//! Session keys at rest: sealed, not in plain text; opened for their own session only; erased
//! as soon as their session ends.

use wxlogin_domain::{OpenedLogin, SessionKey, SessionStore, StoreError};
use wxlogin_user_store::testing::{TestDatabase, audit_at, test_sealer};
use wxlogin_user_store::{DieselStore, PoolOptions, SealingSecret, SecretSealer};

use crate::support::{
    APP, NOW, execute, login_through, new_session, open, openid, raw_session_key,
};

contract!(
    ;
    session_keys_are_stored_sealed_not_in_plain_text,
    an_ended_sessions_session_key_is_erased_at_once,
    a_sessions_key_opens_for_that_session_only,
);

async fn session_keys_are_stored_sealed_not_in_plain_text(db: &TestDatabase) {
    let store = open(db).await;
    let (user, _) = store
        .find_or_create_user(APP, &openid("s"), None, NOW)
        .await
        .expect("create");
    let session = store
        .create_session(&new_session(&user.id, "tiihtNczf5v6AKRyjwEUhQ==", NOW))
        .await
        .expect("create");
    drop(store);
    // What a database dump shows.
    let raw = raw_session_key(db, &session.id);
    assert!(raw.starts_with("v1."), "{raw}");
    assert!(!raw.contains("tiihtNczf5v6AKRyjwEUhQ"), "{raw}");
    // Another server secret cannot open it: a typed error, not a wrong key.
    let other = DieselStore::connect(
        db.url(),
        &PoolOptions::default(),
        SecretSealer::new(&secret(b"another server's secret, 32 bytes+")).expect("sealer"),
    )
    .expect("database reachable");
    assert!(matches!(
        other.session_key(&session.id).await,
        Err(StoreError::Sealed(_))
    ));
    // The same secret kept as the previous one after a rotation still opens it.
    let rotated = DieselStore::connect(
        db.url(),
        &PoolOptions::default(),
        SecretSealer::new(&secret(b"another server's secret, 32 bytes+"))
            .and_then(|s| s.with_previous(&secret(b"wxlogin test sealing secret, not a secret")))
            .expect("sealer"),
    )
    .expect("database reachable");
    assert_eq!(
        rotated
            .session_key(&session.id)
            .await
            .expect("opens")
            .as_ref()
            .map(SessionKey::expose),
        Some("tiihtNczf5v6AKRyjwEUhQ==")
    );
}

fn secret(bytes: &[u8]) -> SealingSecret {
    SealingSecret::new(bytes).expect("long enough")
}

async fn an_ended_sessions_session_key_is_erased_at_once(db: &TestDatabase) {
    let store = open(db).await;
    let (user, _) = store
        .find_or_create_user(APP, &openid("erase"), None, NOW)
        .await
        .expect("create");
    let mut ended = Vec::new();
    for _ in 0..3 {
        ended.push(
            store
                .create_session(&new_session(&user.id, "a key to forget", NOW))
                .await
                .expect("session"),
        );
    }
    store
        .revoke_session(&ended[0].id, &audit_at(NOW + 1))
        .await
        .expect("revoke");
    store
        .expire_session(&ended[1].id, NOW + 1)
        .await
        .expect("expire");
    store
        .revoke_all_sessions(&user.id, &audit_at(NOW + 2))
        .await
        .expect("revoke all");
    for session in &ended {
        assert_eq!(raw_session_key(db, &session.id), "", "erased in the row");
        assert_eq!(store.session_key(&session.id).await.expect("query"), None);
    }
}

async fn a_sessions_key_opens_for_that_session_only(db: &TestDatabase) {
    let store = open(db).await;
    let first = login_through(&store, APP, "sealed", None, NOW).await;
    let again = login_through(&store, APP, "sealed", None, NOW + 1).await;
    assert!(first.created && !again.created);
    assert_eq!(again.user.id, first.user.id);
    let key = |login: &OpenedLogin| format!("key-{APP}-sealed-{}", login.session.created_at);
    assert_eq!(
        store.session_key(&again.session.id).await.expect("opens"),
        Some(SessionKey::new(key(&again)))
    );
    // Moved to another session of the same user, a sealed key no longer opens.
    execute(
        db,
        &format!(
            "UPDATE sessions SET session_key = \
             (SELECT session_key FROM sessions WHERE id = '{}') WHERE id = '{}'",
            first.session.id, again.session.id
        ),
    );
    assert!(matches!(
        store.session_key(&again.session.id).await,
        Err(StoreError::Sealed(_))
    ));
    // A key sealed for its user, as sessions opened before 2026-12-03 were, still opens.
    let sealed_for_user = test_sealer()
        .seal("key sealed for the user", &first.user.id)
        .expect("seals");
    execute(
        db,
        &format!(
            "UPDATE sessions SET session_key = '{sealed_for_user}' WHERE id = '{}'",
            again.session.id
        ),
    );
    assert_eq!(
        store.session_key(&again.session.id).await.expect("opens"),
        Some(SessionKey::new("key sealed for the user"))
    );
}
