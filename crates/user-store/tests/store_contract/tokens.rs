//! What v3 tokens keep in the store: the signing keys every instance shares (sealed), where
//! each session's refresh tokens stand, and the ends of sessions the revocation feed tells.

use std::sync::Arc;

use wxlogin_domain::{PrivateKey, SessionStore, SigningKeyStore, StoredSigningKey, UserStore};
use wxlogin_user_store::DieselStore;
use wxlogin_user_store::testing::{TestDatabase, audit_at};

use crate::support::{APP, NOW, execute, login_through, open, openid};

contract!(
    signing_keys_are_shared_sealed_and_one_per_generation,
    a_refresh_moves_the_counter_on_once_and_only_while_the_session_lives,
    two_refreshes_of_one_token_at_once_move_it_on_once,
    every_way_a_session_ends_is_recorded_for_the_feed_in_order,
    ended_sessions_are_purged_by_age;
    a_private_key_is_never_stored_in_the_clear,
    keys_sealed_under_the_previous_secret_are_sealed_again_under_the_current
);

fn key(kid: &str, generation: i64) -> StoredSigningKey {
    StoredSigningKey {
        kid: kid.to_owned(),
        generation,
        algorithm: "EdDSA".into(),
        private_key: PrivateKey::new(format!("private-{kid}")),
        created_at: NOW,
        signs_from: NOW + generation,
    }
}

async fn signing_keys_are_shared_sealed_and_one_per_generation(store: &DieselStore) {
    assert!(store.signing_keys().await.expect("read").is_empty());
    assert!(store.add_signing_key(&key("k2", 2)).await.expect("add"));
    assert!(store.add_signing_key(&key("k1", 1)).await.expect("add"));
    // Another instance's key for a generation already made, and a kid already used.
    assert!(
        !store
            .add_signing_key(&key("k1b", 1))
            .await
            .expect("conflict")
    );
    assert!(
        !store
            .add_signing_key(&key("k2", 3))
            .await
            .expect("conflict")
    );
    let keys = store.signing_keys().await.expect("read");
    assert_eq!(keys, vec![key("k1", 1), key("k2", 2)], "by generation");
}

async fn a_private_key_is_never_stored_in_the_clear(db: &TestDatabase) {
    let store = open(db).await;
    store.add_signing_key(&key("kid-x", 1)).await.expect("add");
    // Moving the sealed value to another row makes it unreadable.
    execute(
        db,
        "INSERT INTO signing_keys (kid, generation, algorithm, private_key, created_at, signs_from) \
         SELECT 'kid-y', 2, algorithm, private_key, created_at, signs_from FROM signing_keys",
    );
    let readable = store.signing_keys().await.expect("the others are read");
    assert_eq!(
        readable.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(),
        ["kid-x"],
        "a sealed key is bound to its row: moved, it does not open, and is left out"
    );
    execute(db, "DELETE FROM signing_keys WHERE kid = 'kid-y'");
    let raw = crate::support::raw_text(db, "SELECT private_key AS text FROM signing_keys");
    assert!(!raw.contains("private-kid-x"), "{raw}");
    assert_eq!(
        store.signing_keys().await.expect("read")[0].private_key,
        PrivateKey::new("private-kid-x")
    );
}

async fn a_refresh_moves_the_counter_on_once_and_only_while_the_session_lives(store: &DieselStore) {
    let login = login_through(store, APP, "ann", None, NOW).await;
    let id = &login.session.id;
    let state = store
        .find_refresh_state(id)
        .await
        .expect("read")
        .expect("found");
    assert_eq!(
        (state.counter, state.refreshed_at, state.prior_refreshed_at),
        (0, None, None)
    );
    let moved = store
        .rotate_refresh(id, 0, &audit_at(NOW + 10))
        .await
        .expect("rotate");
    assert_eq!(
        moved.as_ref(),
        Some(&login.session),
        "the session, as it is"
    );
    assert!(
        store
            .rotate_refresh(id, 0, &audit_at(NOW + 11))
            .await
            .expect("spent")
            .is_none()
    );
    assert!(
        store
            .rotate_refresh(id, 1, &audit_at(NOW + 20))
            .await
            .expect("rotate")
            .is_some()
    );
    let state = store
        .find_refresh_state(id)
        .await
        .expect("read")
        .expect("found");
    assert_eq!(
        (state.counter, state.refreshed_at, state.prior_refreshed_at),
        (2, Some(NOW + 20), Some(NOW + 10))
    );
    // Past its expiry, or ended, a session's token is not moved on.
    assert!(
        store
            .rotate_refresh(id, 2, &audit_at(NOW + 3601))
            .await
            .expect("expired")
            .is_none()
    );
    store
        .revoke_session(id, &audit_at(NOW + 30))
        .await
        .expect("revoke");
    assert!(
        store
            .rotate_refresh(id, 2, &audit_at(NOW + 31))
            .await
            .expect("ended")
            .is_none()
    );
    assert!(
        store
            .find_refresh_state("no-such")
            .await
            .expect("read")
            .is_none()
    );
}

async fn two_refreshes_of_one_token_at_once_move_it_on_once(store: &DieselStore) {
    // Eight refreshes of each of four sessions' token at once: they queue together, so a
    // commit holds several of one session (on PostgreSQL, in one statement).
    let mut logins = Vec::new();
    for name in ["ben", "bo", "bud", "bix"] {
        logins.push(login_through(store, APP, name, None, NOW).await);
    }
    let store = Arc::new(store.clone());
    let tasks: Vec<_> = logins
        .iter()
        .flat_map(|login| std::iter::repeat_n(login.session.id.clone(), 8))
        .map(|id| {
            let store = store.clone();
            tokio::spawn(async move {
                (
                    id.clone(),
                    store.rotate_refresh(&id, 0, &audit_at(NOW + 1)).await,
                )
            })
        })
        .collect();
    let mut moved = std::collections::HashMap::<String, usize>::new();
    for task in tasks {
        let (id, answer) = task.await.expect("task");
        if let Some(session) = answer.expect("rotate") {
            assert_eq!(session.id, id, "each answer is its own session's");
            *moved.entry(id).or_default() += 1;
        }
    }
    for login in &logins {
        assert_eq!(moved.get(&login.session.id), Some(&1), "moved on once");
        let state = store
            .find_refresh_state(&login.session.id)
            .await
            .expect("read")
            .expect("found");
        assert_eq!(state.counter, 1);
    }
}

async fn every_way_a_session_ends_is_recorded_for_the_feed_in_order(store: &DieselStore) {
    let before = store.ended_sessions_since(0).await.expect("read");
    assert!(before.ended.is_empty());
    let start = before.now_ms;
    let a = login_through(store, APP, "cat", None, NOW).await;
    let b1 = login_through(store, APP, "dan", None, NOW).await;
    let b2 = login_through(store, APP, "dan", None, NOW + 1).await;
    let c = login_through(store, APP, "eve", None, NOW).await;
    let d = login_through(store, APP, "fay", None, NOW).await;
    store
        .revoke_session(&a.session.id, &audit_at(NOW + 5))
        .await
        .expect("logout");
    store
        .revoke_all_sessions(&b1.user.id, &audit_at(NOW + 6))
        .await
        .expect("logout everywhere");
    store
        .delete_account(
            &c.user.id,
            APP,
            &openid(&format!("{APP}-eve")),
            &audit_at(NOW),
        )
        .await
        .expect("delete")
        .expect("deleted");
    store
        .expire_session(&d.session.id, NOW + 7)
        .await
        .expect("stale key");
    let feed = store.ended_sessions_since(start).await.expect("read");
    let ids: Vec<&str> = feed.ended.iter().map(|e| e.session_id.as_str()).collect();
    assert_eq!(ids[0], a.session.id);
    let mut rest: Vec<&str> = ids[1..3].to_vec();
    rest.sort_unstable();
    let mut both = vec![b1.session.id.as_str(), b2.session.id.as_str()];
    both.sort_unstable();
    assert_eq!(rest, both);
    assert_eq!(&ids[3..], [c.session.id.as_str(), d.session.id.as_str()]);
    assert!(
        feed.ended
            .windows(2)
            .all(|w| w[0].ended_at_ms <= w[1].ended_at_ms)
    );
    assert!(
        feed.ended
            .iter()
            .all(|e| e.ended_at_ms >= start && e.ended_at_ms <= feed.now_ms)
    );
    // Asked from the last end on, only it and later ones come.
    let last = feed.ended.last().expect("some").ended_at_ms;
    let later = store.ended_sessions_since(last).await.expect("read");
    assert!(later.ended.iter().all(|e| e.ended_at_ms >= last));
    assert!(later.ended.iter().any(|e| e.session_id == d.session.id));
    // The user store's view is untouched by the feed.
    assert!(store.find_user(&a.user.id).await.expect("read").is_some());
}

async fn ended_sessions_are_purged_by_age(store: &DieselStore) {
    let a = login_through(store, APP, "gus", None, NOW).await;
    store
        .revoke_session(&a.session.id, &audit_at(NOW + 1))
        .await
        .expect("logout");
    let feed = store.ended_sessions_since(0).await.expect("read");
    assert_eq!(feed.ended.len(), 1);
    let at = feed.ended[0].ended_at_ms;
    assert_eq!(
        store.purge_ended_sessions_before(at).await.expect("purge"),
        0
    );
    assert_eq!(
        store
            .purge_ended_sessions_before(at + 1)
            .await
            .expect("purge"),
        1
    );
    assert!(
        store
            .ended_sessions_since(0)
            .await
            .expect("read")
            .ended
            .is_empty()
    );
}

async fn keys_sealed_under_the_previous_secret_are_sealed_again_under_the_current(
    db: &TestDatabase,
) {
    use wxlogin_user_store::{PoolOptions, SealingSecret, SecretSealer};
    let secret = |s: &str| SealingSecret::new(s.repeat(32)).expect("long enough");
    let open_with = |sealer: SecretSealer| {
        let store = DieselStore::connect(db.url(), &PoolOptions::default(), sealer)
            .expect("database reachable");
        async move {
            store.run_migrations().await.expect("migrations");
            store
        }
    };
    let old = SecretSealer::new(&secret("o")).expect("sealer");
    let store = open_with(old).await;
    store.add_signing_key(&key("k1", 1)).await.expect("add");
    drop(store);
    // Rotated: the new secret, the old one still read.
    let rotating = SecretSealer::new(&secret("n"))
        .expect("sealer")
        .with_previous(&secret("o"))
        .expect("previous");
    let store = open_with(rotating).await;
    assert_eq!(
        store.signing_keys().await.expect("read"),
        vec![key("k1", 1)]
    );
    drop(store);
    // The previous secret dropped: the key was sealed again, and still opens.
    let store = open_with(SecretSealer::new(&secret("n")).expect("sealer")).await;
    assert_eq!(
        store.signing_keys().await.expect("read"),
        vec![key("k1", 1)]
    );
}
