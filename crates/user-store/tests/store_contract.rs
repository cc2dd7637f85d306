//! One contract, run against real SQLite and real PostgreSQL.

use std::sync::Arc;

use tokio::sync::Barrier;

use wxlogin_domain::{
    AccessToken, AccessTokenStore, ChangeFeed, MergedAccount, NewLogin, OpenId, OpenedLogin,
    ProfileUpdate, SessionKey, SessionStore, StoreChange, StoreError, UnionId, UserStore,
};
use wxlogin_user_store::testing::{NewSession, TestDatabase, every_stored_value, test_sealer};
use wxlogin_user_store::{DieselStore, PoolOptions, SealingSecret, SecretSealer};

const NOW: i64 = 1_800_000_000;
/// The mini program most cases log in through.
const APP: &str = "wxapp-one";
/// A second mini program of the same Open Platform account.
const OTHER_APP: &str = "wxapp-two";

async fn open(db: &TestDatabase) -> DieselStore {
    open_with(db, PoolOptions::default()).await
}

async fn open_with(db: &TestDatabase, pool: PoolOptions) -> DieselStore {
    let store = DieselStore::connect(db.url(), &pool, test_sealer()).expect("database reachable");
    store.run_migrations().await.expect("migrations apply");
    store
}

fn secret(bytes: &[u8]) -> SealingSecret {
    SealingSecret::new(bytes).expect("long enough")
}

fn openid(name: &str) -> OpenId {
    OpenId::new(format!("openid-{name}"))
}

fn new_session(user_id: &str, key: &str, created_at: i64) -> NewSession {
    NewSession {
        user_id: user_id.to_owned(),
        appid: APP.to_owned(),
        session_key: SessionKey::new(key),
        created_at,
        expires_at: created_at + 3600,
    }
}

async fn first_login_creates_a_user_and_the_next_finds_it(store: &DieselStore) {
    let (created, was_created) = store
        .find_or_create_user(APP, &openid("a"), None, NOW)
        .await
        .expect("create");
    assert!(was_created);
    assert_eq!(created.apps, [APP]);
    assert_eq!(
        store.openid(&created.id, APP).await.expect("query"),
        Some(openid("a"))
    );
    assert_eq!(
        store.openid(&created.id, OTHER_APP).await.expect("query"),
        None
    );
    assert_eq!((created.created_at, created.updated_at), (NOW, NOW));
    assert_eq!(
        (
            created.nick_name.clone(),
            created.phone_number.clone(),
            created.gender
        ),
        (None, None, None)
    );
    let (found, was_created) = store
        .find_or_create_user(APP, &openid("a"), None, NOW + 5)
        .await
        .expect("find");
    assert!(!was_created);
    assert_eq!(found, created);
}

async fn the_public_id_is_a_random_uuid_not_derived_from_the_openid(store: &DieselStore) {
    let (user, _) = store
        .find_or_create_user(APP, &openid("b"), None, NOW)
        .await
        .expect("create");
    assert_eq!(user.id.len(), 36);
    assert!(!user.id.contains("openid"));
    assert!(hex_in_uuid_shape(&user.id), "{}", user.id);
    let (other, _) = store
        .find_or_create_user(APP, &openid("c"), None, NOW)
        .await
        .expect("create");
    assert_ne!(user.id, other.id);
}

fn hex_in_uuid_shape(id: &str) -> bool {
    id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') && id.matches('-').count() == 4
}

async fn a_unionid_is_kept_and_filled_in_later_if_it_was_missing(store: &DieselStore) {
    let (user, _) = store
        .find_or_create_user(APP, &openid("d"), None, NOW)
        .await
        .expect("create");
    assert_eq!(user.unionid, None);
    let unionid = UnionId::new("union-d");
    let (user, _) = store
        .find_or_create_user(APP, &openid("d"), Some(&unionid), NOW)
        .await
        .expect("find");
    assert_eq!(user.unionid, Some(unionid.clone()));
    let other = UnionId::new("union-other");
    let (user, _) = store
        .find_or_create_user(APP, &openid("d"), Some(&other), NOW)
        .await
        .expect("find");
    assert_eq!(
        user.unionid,
        Some(unionid),
        "a recorded unionid is not overwritten"
    );
}

async fn concurrent_first_logins_of_one_user_create_exactly_one_account(store: &DieselStore) {
    const RACERS: usize = 16;
    let barrier = Arc::new(Barrier::new(RACERS));
    let tasks: Vec<_> = (0..RACERS)
        .map(|_| {
            let (store, barrier) = (store.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .find_or_create_user(APP, &openid("racer"), None, NOW)
                    .await
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(
            task.await
                .expect("no panic")
                .expect("no error under contention"),
        );
    }
    assert_eq!(
        results.iter().filter(|(_, created)| *created).count(),
        1,
        "exactly one call created it"
    );
    let first = &results[0].0.id;
    assert!(
        results.iter().all(|(user, _)| &user.id == first),
        "everyone got the same account"
    );
}

async fn find_user_by_public_id(store: &DieselStore) {
    let (user, _) = store
        .find_or_create_user(APP, &openid("e"), None, NOW)
        .await
        .expect("create");
    assert_eq!(store.find_user(&user.id).await.expect("query"), Some(user));
    assert_eq!(store.find_user("no-such-user").await.expect("query"), None);
}

async fn profile_updates_are_partial_and_null_clears(store: &DieselStore) {
    let (user, _) = store
        .find_or_create_user(APP, &openid("f"), None, NOW)
        .await
        .expect("create");
    let update = ProfileUpdate {
        nick_name: Some(Some("小明 🐼".into())),
        avatar_url: Some(Some("https://example.com/a.png".into())),
        gender: Some(Some(1)),
        phone_number: Some(Some("+1 650-555-0100".into())),
        unless_changed_since: None,
    };
    let updated = store
        .update_profile(&user.id, &update, NOW + 10)
        .await
        .expect("query")
        .expect("exists");
    assert_eq!(updated.nick_name.as_deref(), Some("小明 🐼"));
    assert_eq!(updated.gender, Some(1));
    assert_eq!(updated.phone_number.as_deref(), Some("+1 650-555-0100"));
    assert_eq!((updated.created_at, updated.updated_at), (NOW, NOW + 10));

    let clear_avatar = ProfileUpdate {
        avatar_url: Some(None),
        ..ProfileUpdate::default()
    };
    let updated = store
        .update_profile(&user.id, &clear_avatar, NOW + 20)
        .await
        .expect("query")
        .expect("exists");
    assert_eq!(updated.avatar_url, None);
    assert_eq!(
        updated.nick_name.as_deref(),
        Some("小明 🐼"),
        "absent fields stay"
    );
    assert_eq!(
        store.find_user(&user.id).await.expect("query"),
        Some(updated)
    );

    assert_eq!(
        store
            .update_profile("nobody", &clear_avatar, NOW)
            .await
            .expect("query"),
        None
    );
}

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
            .revoke_session(&session.id, NOW + 1)
            .await
            .expect("query")
    );
    assert!(
        !store
            .revoke_session(&session.id, NOW + 2)
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
            .revoke_session("no-such-session", NOW)
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

async fn every_method_works_with_a_pool_of_one_connection(db: &TestDatabase) {
    // A method that held one pooled connection while asking for another would wait out the
    // pool timeout here and fail.
    let store = open_with(
        db,
        PoolOptions {
            max_size: 1,
            connection_timeout: std::time::Duration::from_secs(2),
            ..PoolOptions::default()
        },
    )
    .await;
    let (user, _) = store
        .find_or_create_user(APP, &openid("m"), Some(&UnionId::new("u-m")), NOW)
        .await
        .expect("create");
    store
        .find_or_create_user(APP, &openid("m"), Some(&UnionId::new("u-m")), NOW)
        .await
        .expect("find");
    let update = ProfileUpdate {
        nick_name: Some(Some("m".into())),
        ..ProfileUpdate::default()
    };
    store
        .update_profile(&user.id, &update, NOW)
        .await
        .expect("update")
        .expect("exists");
    let session = store
        .create_session(&new_session(&user.id, "key-m", NOW))
        .await
        .expect("create");
    assert!(
        store
            .expire_session(&session.id, NOW + 1)
            .await
            .expect("expire")
    );
    assert!(
        store
            .expire_session(&session.id, NOW + 2)
            .await
            .expect("already expired, still there")
    );
    assert!(
        store
            .revoke_session(&session.id, NOW + 3)
            .await
            .expect("revoke")
    );
    store
        .latest_live_session(&user.id, APP, NOW)
        .await
        .expect("query");
    store.purge_sessions(NOW).await.expect("purge");
    store.session_key(&session.id).await.expect("session key");
    store.ping().await.expect("ping");
    assert!(
        store
            .lease_access_token_refresh("wxapp", "me", NOW, NOW + 30)
            .await
            .expect("lease")
    );
    let token = AccessToken::new("AT");
    store
        .save_access_token("wxapp", "me", &token, NOW + 7000, 1)
        .await
        .expect("save");
    store.load_access_token("wxapp").await.expect("load");
    store
        .expire_access_token("wxapp", &token)
        .await
        .expect("expire");
    store
        .release_access_token_lease("wxapp", "me", 0)
        .await
        .expect("release");
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
        .revoke_session(&newest.id, NOW + 7)
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
        .revoke_session(&revoked.id, NOW)
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

async fn data_survives_reopening_the_database(db: &TestDatabase) {
    let store = open(db).await;
    let (user, _) = store
        .find_or_create_user(APP, &openid("l"), None, NOW)
        .await
        .expect("create");
    let session = store
        .create_session(&new_session(&user.id, "key-l", NOW))
        .await
        .expect("create");
    drop(store);
    let store = open(db).await;
    assert_eq!(store.find_user(&user.id).await.expect("query"), Some(user));
    assert_eq!(
        store.find_session(&session.id).await.expect("query"),
        Some(session)
    );
    assert!(
        store.run_migrations().await.expect("idempotent").is_empty(),
        "nothing left to apply"
    );
    store.ping().await.expect("answers");
}

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

fn raw_session_key(db: &TestDatabase, session_id: &str) -> String {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Raw {
        #[diesel(sql_type = diesel::sql_types::Text)]
        session_key: String,
    }
    let query = format!("SELECT session_key FROM sessions WHERE id = '{session_id}'");
    let url = db.url();
    let rows: Vec<Raw> = if let Some(path) = url.strip_prefix("sqlite://") {
        let mut conn = diesel::SqliteConnection::establish(path).expect("sqlite");
        diesel::sql_query(query).load(&mut conn).expect("select")
    } else {
        let mut conn = diesel::PgConnection::establish(url).expect("postgres");
        diesel::sql_query(query).load(&mut conn).expect("select")
    };
    rows.into_iter().next().expect("the row").session_key
}

async fn one_lease_at_a_time_for_the_access_token_refresh(store: &DieselStore) {
    assert_eq!(store.load_access_token("wxapp").await.expect("load"), None);
    assert!(
        store
            .lease_access_token_refresh("wxapp", "a", NOW, NOW + 30)
            .await
            .expect("lease")
    );
    assert!(
        !store
            .lease_access_token_refresh("wxapp", "b", NOW + 1, NOW + 31)
            .await
            .expect("lease"),
        "a holds it"
    );
    assert!(
        store
            .lease_access_token_refresh("wxapp", "a", NOW + 1, NOW + 31)
            .await
            .expect("lease"),
        "its holder may renew it"
    );
    assert!(
        store
            .lease_access_token_refresh("otherapp", "b", NOW + 1, NOW + 31)
            .await
            .expect("lease"),
        "leases are per app"
    );
    let total = store
        .save_access_token("wxapp", "a", &AccessToken::new("AT-1"), NOW + 7000, 1)
        .await
        .expect("save");
    assert_eq!(total, 1);
    let stored = store
        .load_access_token("wxapp")
        .await
        .expect("load")
        .expect("stored");
    assert_eq!(
        (stored.token.expose(), stored.use_until, stored.fetches),
        ("AT-1", NOW + 7000, 1)
    );
    assert!(
        !store
            .lease_access_token_refresh("wxapp", "b", NOW + 2, NOW + 32)
            .await
            .expect("lease"),
        "no lease while a usable token is stored"
    );
    assert!(
        store
            .lease_access_token_refresh("wxapp", "b", NOW + 7000, NOW + 7030)
            .await
            .expect("lease"),
        "saving released the lease, and the token is due"
    );
    store
        .release_access_token_lease("wxapp", "b", 2)
        .await
        .expect("release");
    assert_eq!(
        store
            .load_access_token("wxapp")
            .await
            .expect("load")
            .map(|t| t.fetches),
        Some(3),
        "failed fetches count too"
    );
    assert!(
        store
            .lease_access_token_refresh("wxapp", "c", NOW + 7001, NOW + 7031)
            .await
            .expect("lease"),
        "releasing freed the lease"
    );
    assert!(
        store
            .lease_access_token_refresh("wxapp", "d", NOW + 7032, NOW + 7062)
            .await
            .expect("lease"),
        "an abandoned lease runs out"
    );
}

async fn expiring_an_access_token_is_a_compare_and_set(store: &DieselStore) {
    let old = AccessToken::new("AT-old");
    let new = AccessToken::new("AT-new");
    store
        .save_access_token("wxapp", "a", &old, NOW + 7000, 1)
        .await
        .expect("save");
    assert!(
        store
            .expire_access_token("wxapp", &old)
            .await
            .expect("expire")
    );
    assert_eq!(
        store
            .load_access_token("wxapp")
            .await
            .expect("load")
            .map(|t| t.use_until),
        Some(0)
    );
    store
        .save_access_token("wxapp", "b", &new, NOW + 7000, 1)
        .await
        .expect("save");
    assert!(
        !store
            .expire_access_token("wxapp", &old)
            .await
            .expect("expire"),
        "a late report about the old token leaves the new one alone"
    );
    assert_eq!(
        store
            .load_access_token("wxapp")
            .await
            .expect("load")
            .map(|t| (t.token, t.use_until)),
        Some((new, NOW + 7000))
    );
    assert!(
        !store
            .expire_access_token("nosuchapp", &old)
            .await
            .expect("expire")
    );
}

async fn a_login_finds_or_creates_the_user_and_opens_a_session_in_one_step(store: &DieselStore) {
    let login = |key: &str, unionid: Option<&str>| NewLogin {
        appid: APP.to_owned(),
        openid: openid("o"),
        unionid: unionid.map(UnionId::new),
        session_key: SessionKey::new(key),
        created_at: NOW,
        expires_at: NOW + 60,
        login_code: None,
    };
    let first = store
        .open_login(&login("k1", None))
        .await
        .expect("first login");
    assert!(first.created);
    assert_eq!(first.session.user_id, first.user.id);
    assert_eq!(first.session.expires_at, NOW + 60);
    assert_eq!(
        store.session_key(&first.session.id).await.expect("query"),
        Some(SessionKey::new("k1"))
    );
    let again = store
        .open_login(&login("k2", Some("union-o")))
        .await
        .expect("second login");
    assert!(!again.created);
    assert_eq!(again.user.id, first.user.id);
    assert_eq!(
        again.user.unionid,
        Some(UnionId::new("union-o")),
        "a unionid is filled in"
    );
    assert_ne!(again.session.id, first.session.id);
    assert_eq!(
        store.find_session(&again.session.id).await.expect("query"),
        Some(again.session.clone())
    );
}

async fn concurrent_first_logins_in_one_step_create_one_account(store: &DieselStore) {
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let (store, barrier) = (store.clone(), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .open_login(&NewLogin {
                        appid: APP.to_owned(),
                        openid: openid("race"),
                        unionid: None,
                        session_key: SessionKey::new(format!("k{i}")),
                        created_at: NOW,
                        expires_at: NOW + 60,
                        login_code: None,
                    })
                    .await
                    .expect("login")
            })
        })
        .collect();
    let mut logins = Vec::new();
    for handle in handles {
        logins.push(handle.await.expect("task"));
    }
    assert_eq!(logins.iter().filter(|l| l.created).count(), 1);
    assert!(logins.iter().all(|l| l.user.id == logins[0].user.id));
}

async fn changes_are_announced_to_every_listener(db: &TestDatabase) {
    let here = open(db).await;
    let elsewhere = open(db).await;
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let listener = here
        .subscribe(Box::new(move |change| {
            let _ = tx.lock().expect("sender").send(change);
        }))
        .expect("listener starts")
        .expect("a feed on either database");
    let heard = || {
        rx.recv_timeout(std::time::Duration::from_secs(10))
            .expect("the feed speaks")
    };
    if db.url().starts_with("postgres") {
        assert_eq!(
            heard(),
            StoreChange::Missed,
            "connecting may have missed some"
        );
    }
    // Every 250 ms the feed says it missed nothing.
    assert_eq!(heard(), StoreChange::Heard);
    let next = || loop {
        match heard() {
            StoreChange::Heard => {}
            change => return change,
        }
    };

    let (user, _) = elsewhere
        .find_or_create_user(APP, &openid("n"), None, NOW)
        .await
        .expect("create");
    let first = elsewhere
        .create_session(&new_session(&user.id, "k", NOW))
        .await
        .expect("session");
    let second = elsewhere
        .create_session(&new_session(&user.id, "k", NOW))
        .await
        .expect("session");
    elsewhere
        .revoke_session(&first.id, NOW)
        .await
        .expect("revoke");
    elsewhere
        .revoke_session(&first.id, NOW)
        .await
        .expect("revoked already: no news");
    elsewhere
        .update_profile(
            &user.id,
            &ProfileUpdate {
                nick_name: Some(Some("n".into())),
                ..ProfileUpdate::default()
            },
            NOW,
        )
        .await
        .expect("update");
    elsewhere
        .expire_session(&second.id, NOW + 1)
        .await
        .expect("expire");

    assert_eq!(next(), StoreChange::SessionEnded(first.id));
    assert_eq!(next(), StoreChange::UserChanged(user.id));
    assert_eq!(next(), StoreChange::SessionEnded(second.id));
    drop(listener);
}

// Several mini programs, one account per person.

fn person(name: &str) -> UnionId {
    UnionId::new(format!("union-{name}"))
}

async fn login_through(
    store: &DieselStore,
    appid: &str,
    name: &str,
    unionid: Option<UnionId>,
    at: i64,
) -> OpenedLogin {
    store
        .open_login(&NewLogin {
            appid: appid.to_owned(),
            openid: OpenId::new(format!("openid-{appid}-{name}")),
            unionid,
            session_key: SessionKey::new(format!("key-{appid}-{name}-{at}")),
            created_at: at,
            expires_at: at + 3600,
            login_code: None,
        })
        .await
        .expect("login")
}

async fn one_person_logging_in_through_two_apps_is_one_account(store: &DieselStore) {
    let first = login_through(store, APP, "p", Some(person("p")), NOW).await;
    let second = login_through(store, OTHER_APP, "p", Some(person("p")), NOW + 1).await;
    assert!(first.created);
    assert!(!second.created, "known by unionid: userExist");
    assert_eq!(second.user.id, first.user.id);
    assert_eq!(second.user.apps, [APP, OTHER_APP]);
    assert_eq!(second.session.appid, OTHER_APP);
    assert_eq!(second.merged, None);
    assert_eq!(
        store
            .openid(&first.user.id, OTHER_APP)
            .await
            .expect("query"),
        Some(OpenId::new(format!("openid-{OTHER_APP}-p")))
    );
    let other = login_through(store, OTHER_APP, "q", Some(person("q")), NOW).await;
    assert_ne!(
        other.user.id, first.user.id,
        "another person, another account"
    );
}

async fn a_later_unionid_merges_the_newer_account_into_the_older(store: &DieselStore) {
    // Known through APP (bound: unionid) first, then through OTHER_APP before it was bound.
    let older = login_through(store, APP, "r", Some(person("r")), NOW).await;
    let newer = login_through(store, OTHER_APP, "r", None, NOW + 10).await;
    assert_ne!(
        newer.user.id, older.user.id,
        "no unionid: not known to be one person yet"
    );
    let fill = ProfileUpdate {
        nick_name: Some(Some("from the newer".into())),
        avatar_url: Some(Some("https://a.b/newer".into())),
        ..ProfileUpdate::default()
    };
    store
        .update_profile(&newer.user.id, &fill, NOW + 11)
        .await
        .expect("update");
    let keep = ProfileUpdate {
        avatar_url: Some(Some("https://a.b/older".into())),
        ..ProfileUpdate::default()
    };
    store
        .update_profile(&older.user.id, &keep, NOW + 12)
        .await
        .expect("update");

    // OTHER_APP is bound now: its next login reveals the unionid.
    let merging = login_through(store, OTHER_APP, "r", Some(person("r")), NOW + 20).await;

    assert_eq!(merging.user.id, older.user.id, "the older account stays");
    assert!(!merging.created);
    assert_eq!(
        merging.merged,
        Some(MergedAccount {
            user_id: newer.user.id.clone(),
            ended_sessions: vec![newer.session.id.clone()],
        })
    );
    assert_eq!(merging.user.apps, [APP, OTHER_APP]);
    assert_eq!(
        merging.user.nick_name.as_deref(),
        Some("from the newer"),
        "filled"
    );
    assert_eq!(
        merging.user.avatar_url.as_deref(),
        Some("https://a.b/older"),
        "kept"
    );
    assert_eq!(merging.user.unionid, Some(person("r")));
    assert_eq!(store.find_user(&newer.user.id).await.expect("query"), None);
    assert_eq!(
        store.find_session(&newer.session.id).await.expect("query"),
        None,
        "the merged account's sessions are ended"
    );
    assert!(
        store
            .find_session(&older.session.id)
            .await
            .expect("query")
            .is_some()
    );
    let again = login_through(store, OTHER_APP, "r", Some(person("r")), NOW + 30).await;
    assert_eq!((again.user.id, again.merged), (older.user.id, None));
}

async fn the_older_account_stays_even_when_the_newer_holds_the_unionid(store: &DieselStore) {
    let older = login_through(store, APP, "s", None, NOW).await;
    let newer = login_through(store, OTHER_APP, "s", Some(person("s")), NOW + 5).await;
    assert_ne!(newer.user.id, older.user.id);
    let merging = login_through(store, APP, "s", Some(person("s")), NOW + 10).await;
    assert_eq!(merging.user.id, older.user.id);
    assert_eq!(
        merging.user.unionid,
        Some(person("s")),
        "the unionid moves to it"
    );
    assert_eq!(
        merging.merged.map(|m| m.user_id),
        Some(newer.user.id.clone())
    );
    let via_other = login_through(store, OTHER_APP, "s", Some(person("s")), NOW + 20).await;
    assert_eq!(via_other.user.id, older.user.id);
}

async fn concurrent_logins_of_one_person_through_two_apps_create_one_account(store: &DieselStore) {
    let barrier = Arc::new(Barrier::new(8));
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (store, barrier) = (store.clone(), Arc::clone(&barrier));
            tokio::spawn(async move {
                let appid = if i % 2 == 0 { APP } else { OTHER_APP };
                barrier.wait().await;
                login_through(&store, appid, "t", Some(person("t")), NOW + i).await
            })
        })
        .collect();
    let mut logins = Vec::new();
    for task in tasks {
        logins.push(task.await.expect("task"));
    }
    assert_eq!(logins.iter().filter(|l| l.created).count(), 1);
    assert!(logins.iter().all(|l| l.user.id == logins[0].user.id));
    let user = store
        .find_user(&logins[0].user.id)
        .await
        .expect("query")
        .expect("the account");
    assert_eq!(user.apps.len(), 2, "{:?}", user.apps);
}

async fn concurrent_logins_revealing_one_unionid_merge_once(store: &DieselStore) {
    let a = login_through(store, APP, "u", None, NOW).await;
    let b = login_through(store, OTHER_APP, "u", None, NOW + 1).await;
    assert_ne!(a.user.id, b.user.id);
    let barrier = Arc::new(Barrier::new(8));
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (store, barrier) = (store.clone(), Arc::clone(&barrier));
            tokio::spawn(async move {
                let appid = if i % 2 == 0 { APP } else { OTHER_APP };
                barrier.wait().await;
                login_through(&store, appid, "u", Some(person("u")), NOW + 10 + i).await
            })
        })
        .collect();
    let mut logins = Vec::new();
    for task in tasks {
        logins.push(task.await.expect("task"));
    }
    assert_eq!(logins.iter().filter(|l| l.merged.is_some()).count(), 1);
    assert_eq!(store.find_user(&b.user.id).await.expect("query"), None);
    for login in &logins {
        let session = store.find_session(&login.session.id).await.expect("query");
        if login.user.id == a.user.id {
            assert!(
                session.is_some(),
                "a login answering the older account stays"
            );
        } else {
            // Only a login that ran before the merge can have answered the newer account, and
            // the merge ended its session.
            assert_eq!(login.user.id, b.user.id);
            assert_eq!(session, None);
        }
    }
    let after = login_through(store, OTHER_APP, "u", Some(person("u")), NOW + 30).await;
    assert_eq!(after.user.id, a.user.id);
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
        .revoke_session(&ended[0].id, NOW + 1)
        .await
        .expect("revoke");
    store
        .expire_session(&ended[1].id, NOW + 1)
        .await
        .expect("expire");
    store
        .revoke_all_sessions(&user.id, NOW + 2)
        .await
        .expect("revoke all");
    for session in &ended {
        assert_eq!(raw_session_key(db, &session.id), "", "erased in the row");
        assert_eq!(store.session_key(&session.id).await.expect("query"), None);
    }
}

// Logout everywhere and deletion.

async fn every_session_of_an_account_ends_at_once(store: &DieselStore) {
    let one = login_through(store, APP, "v", Some(person("v")), NOW).await;
    let two = login_through(store, OTHER_APP, "v", Some(person("v")), NOW + 1).await;
    let bystander = login_through(store, APP, "w", None, NOW).await;
    let mut ended = store
        .revoke_all_sessions(&one.user.id, NOW + 5)
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
            .revoke_all_sessions(&one.user.id, NOW + 6)
            .await
            .expect("again")
            .is_empty()
    );
}

async fn a_deleted_account_leaves_nothing_of_the_person_in_any_table(db: &TestDatabase) {
    let store = open(db).await;
    let first = login_through(&store, APP, "x", Some(person("x")), NOW).await;
    let second = login_through(&store, OTHER_APP, "x", Some(person("x")), NOW + 1).await;
    let profile = ProfileUpdate {
        nick_name: Some(Some("Xavier Unique".into())),
        avatar_url: Some(Some("https://a.b/xavier-unique".into())),
        gender: Some(Some(1)),
        phone_number: Some(Some("13912345678".into())),
        unless_changed_since: None,
    };
    store
        .update_profile(&first.user.id, &profile, NOW + 2)
        .await
        .expect("update");
    let sealed_keys: Vec<String> = [&first.session.id, &second.session.id]
        .iter()
        .map(|id| raw_session_key(db, id))
        .collect();
    let kept = login_through(&store, APP, "keeper", None, NOW).await;
    let traces = [
        first.user.id.as_str(),
        "openid-wxapp-one-x",
        "openid-wxapp-two-x",
        "union-x",
        "13912345678",
        "Xavier Unique",
        "xavier-unique",
        first.session.id.as_str(),
        second.session.id.as_str(),
        sealed_keys[0].as_str(),
        sealed_keys[1].as_str(),
    ];
    let before = every_stored_value(db.url()).join("\n");
    for trace in traces {
        assert!(
            before.contains(trace),
            "the scan sees {trace} while it is stored"
        );
    }

    let deleted = store
        .delete_account(&first.user.id, APP, &OpenId::new(format!("openid-{APP}-x")))
        .await
        .expect("delete")
        .expect("it existed");

    assert!(deleted.account_deleted);
    assert_eq!(deleted.ended_sessions.len(), 2);
    assert_eq!(store.find_user(&first.user.id).await.expect("query"), None);
    let stored = every_stored_value(db.url()).join("\n");
    for trace in traces {
        assert!(!stored.contains(trace), "{trace} is still stored");
    }
    assert!(
        stored.contains(&kept.user.id),
        "another person's account is untouched"
    );
    assert_eq!(
        store
            .delete_account(&first.user.id, APP, &OpenId::new(format!("openid-{APP}-x")))
            .await
            .expect("again"),
        None
    );
    let back = login_through(&store, APP, "x", Some(person("x")), NOW + 10).await;
    assert!(back.created, "a later login is a new account");
    assert_ne!(back.user.id, first.user.id);
}

async fn an_identity_is_deleted_alone_unless_it_is_the_accounts_last(store: &DieselStore) {
    let shop = login_through(store, APP, "y", Some(person("y")), NOW).await;
    let club = login_through(store, OTHER_APP, "y", Some(person("y")), NOW + 1).await;
    let openid_in = |appid: &str| OpenId::new(format!("openid-{appid}-y"));

    assert_eq!(
        store
            .delete_identity(OTHER_APP, &openid_in(OTHER_APP), NOW - 100)
            .await
            .expect("query"),
        None,
        "an event older than the identity does not touch it"
    );
    let first = store
        .delete_identity(OTHER_APP, &openid_in(OTHER_APP), NOW + 50)
        .await
        .expect("delete")
        .expect("it existed");
    assert!(!first.account_deleted);
    assert_eq!(first.ended_sessions, std::slice::from_ref(&club.session.id));
    let user = store
        .find_user(&shop.user.id)
        .await
        .expect("query")
        .expect("the account stays");
    assert_eq!(user.apps, [APP]);
    assert!(
        store
            .find_session(&shop.session.id)
            .await
            .expect("query")
            .is_some(),
        "the other app's session stays"
    );
    assert_eq!(
        store
            .delete_identity(OTHER_APP, &openid_in(OTHER_APP), NOW + 50)
            .await
            .expect("again"),
        None,
        "applied twice: nothing more"
    );
    let last = store
        .delete_identity(APP, &openid_in(APP), NOW + 50)
        .await
        .expect("delete")
        .expect("it existed");
    assert!(
        last.account_deleted,
        "the last identity takes the account with it"
    );
    assert_eq!(store.find_user(&shop.user.id).await.expect("query"), None);
    assert_eq!(
        store
            .find_by_identity(APP, &openid_in(APP))
            .await
            .expect("query"),
        None
    );
}

async fn a_deletion_racing_logins_of_the_same_person_leaves_no_half_account(store: &DieselStore) {
    let first = login_through(store, APP, "z", Some(person("z")), NOW).await;
    let barrier = Arc::new(Barrier::new(9));
    let deletion = {
        let (store, barrier, id) = (store.clone(), Arc::clone(&barrier), first.user.id.clone());
        tokio::spawn(async move {
            barrier.wait().await;
            let openid = OpenId::new(format!("openid-{APP}-z"));
            store
                .delete_account(&id, APP, &openid)
                .await
                .expect("delete")
        })
    };
    let logins: Vec<_> = (0..8)
        .map(|i| {
            let (store, barrier) = (store.clone(), Arc::clone(&barrier));
            tokio::spawn(async move {
                let appid = if i % 2 == 0 { APP } else { OTHER_APP };
                barrier.wait().await;
                login_through(&store, appid, "z", Some(person("z")), NOW + 1 + i).await
            })
        })
        .collect();
    assert!(deletion.await.expect("task").is_some());
    let mut survivors = Vec::new();
    for login in logins {
        let login = login.await.expect("no login fails");
        let session = store.find_session(&login.session.id).await.expect("query");
        if login.user.id == first.user.id {
            assert_eq!(
                session, None,
                "a session of the deleted account went with it"
            );
        } else {
            assert!(session.is_some());
            survivors.push(login.user.id);
        }
    }
    survivors.dedup();
    assert!(
        survivors.len() <= 1,
        "one new account at most: {survivors:?}"
    );
    let after = login_through(store, APP, "z", Some(person("z")), NOW + 100).await;
    assert_ne!(after.user.id, first.user.id);
    if let Some(new) = survivors.first() {
        assert_eq!(&after.user.id, new, "the person is one account again");
    }
}

/// The caller's account was merged into an older one of the same person after the caller
/// authenticated: the deletion follows the caller's identity and deletes the person's account
/// as it now stands, never answering done while the person's identities live on.
async fn a_deletion_after_a_merge_deletes_the_account_the_person_is_now(store: &DieselStore) {
    let older = login_through(store, OTHER_APP, "mo", Some(person("mo")), NOW).await;
    let caller = login_through(store, APP, "mo", None, NOW + 1).await;
    assert_ne!(
        caller.user.id, older.user.id,
        "two accounts until WeChat says one person"
    );
    let merged = login_through(store, APP, "mo", Some(person("mo")), NOW + 2).await;
    assert_eq!(merged.user.id, older.user.id, "merged into the older");

    let openid = OpenId::new(format!("openid-{APP}-mo"));
    let deleted = store
        .delete_account(&caller.user.id, APP, &openid)
        .await
        .expect("delete")
        .expect("the person's account is deleted");
    assert_eq!(deleted.user_id, older.user.id);
    assert!(deleted.account_deleted);
    assert_eq!(store.find_user(&older.user.id).await.expect("query"), None);
    for (appid, name) in [(APP, "mo"), (OTHER_APP, "mo")] {
        let openid = OpenId::new(format!("openid-{appid}-{name}"));
        assert_eq!(
            store.find_by_identity(appid, &openid).await.expect("query"),
            None,
            "no identity of the person is left in {appid}"
        );
    }
    assert_eq!(
        store
            .delete_account(&caller.user.id, APP, &openid)
            .await
            .expect("again"),
        None,
        "nothing left to delete"
    );
}

/// What a push of WeChat does to a profile is conditional on the event being newer than the
/// last change of each field it names: a late or replayed event never undoes a change made
/// after it, and a change of another field does not stop it.
async fn an_update_older_than_the_profiles_last_change_is_not_applied(store: &DieselStore) {
    let (user, _) = store
        .find_or_create_user(APP, &openid("late"), None, NOW)
        .await
        .expect("create");
    let set_name = ProfileUpdate {
        nick_name: Some(Some("Set at NOW+10".into())),
        ..ProfileUpdate::default()
    };
    store
        .update_profile(&user.id, &set_name, NOW + 10)
        .await
        .expect("update")
        .expect("exists");
    let clear_as_of = |at: i64| ProfileUpdate {
        nick_name: Some(None),
        unless_changed_since: Some(at),
        ..ProfileUpdate::default()
    };
    for older in [NOW + 5, NOW + 10] {
        assert_eq!(
            store
                .update_profile(&user.id, &clear_as_of(older), NOW + 20)
                .await
                .expect("update"),
            None,
            "an event of {older} is not newer than the change of NOW+10"
        );
    }
    let kept = store
        .find_user(&user.id)
        .await
        .expect("query")
        .expect("exists");
    assert_eq!(kept.nick_name.as_deref(), Some("Set at NOW+10"));
    assert_eq!(kept.updated_at, NOW + 10, "nothing was written");

    // Another field changed after the event does not keep it from the nickname: each field
    // is compared with its own last change.
    let phone = ProfileUpdate {
        phone_number: Some(Some("13800000000".into())),
        ..ProfileUpdate::default()
    };
    store
        .update_profile(&user.id, &phone, NOW + 30)
        .await
        .expect("update")
        .expect("exists");
    let cleared = store
        .update_profile(&user.id, &clear_as_of(NOW + 11), NOW + 40)
        .await
        .expect("update")
        .expect("a newer event applies");
    assert_eq!(cleared.nick_name, None);
    assert_eq!(cleared.phone_number.as_deref(), Some("13800000000"));
    let revoke_phone = ProfileUpdate {
        phone_number: Some(None),
        unless_changed_since: Some(NOW + 25),
        ..ProfileUpdate::default()
    };
    assert_eq!(
        store
            .update_profile(&user.id, &revoke_phone, NOW + 40)
            .await
            .expect("update"),
        None,
        "the phone number was bound again after that revocation"
    );
}

/// Raw SQL on the test database, outside the store: for rows of an older schema.
fn execute(db: &TestDatabase, sql: &str) {
    use diesel::prelude::*;
    let url = db.url();
    if let Some(path) = url.strip_prefix("sqlite://") {
        let mut conn = diesel::SqliteConnection::establish(path).expect("sqlite");
        diesel::connection::SimpleConnection::batch_execute(&mut conn, sql).expect(sql);
    } else {
        let mut conn = diesel::PgConnection::establish(url).expect("postgres");
        diesel::connection::SimpleConnection::batch_execute(&mut conn, sql).expect(sql);
    }
}

async fn the_upgrade_to_identities_keeps_every_user_session_and_sealed_key(db: &TestDatabase) {
    let store = DieselStore::connect(db.url(), &PoolOptions::default(), test_sealer())
        .expect("database reachable");
    let before = store
        .run_migrations_before("2026-12-02-000001")
        .await
        .expect("the older schema");
    assert_eq!(before.len(), 2, "{before:?}");
    let sealed = test_sealer()
        .seal("tiihtNczf5v6AKRyjwEUhQ==", "u-old")
        .expect("seal");
    execute(
        db,
        &format!(
            "INSERT INTO users (id, openid, unionid, nick_name, avatar_url, gender, phone_number, created_at, updated_at) \
             VALUES ('u-old', 'o-old', NULL, 'Old', NULL, 1, '13800138000', 100, 200), \
                    ('u-union', 'o-union', 'union-w', NULL, NULL, NULL, NULL, 300, 300); \
             INSERT INTO sessions (id, user_id, session_key, created_at, expires_at, revoked_at) \
             VALUES ('s-old', 'u-old', '{sealed}', 100, {far}, NULL), \
                    ('s-ended', 'u-old', '', 100, {far}, 150);",
            far = NOW + 3600
        ),
    );

    let applied = store.run_migrations().await.expect("the upgrade");
    assert_eq!(
        applied,
        ["20261202000001", "20261202000002", "20261204000001"],
        "identities, the login codes (old sessions have none), the profile's change times"
    );
    assert_eq!(store.unclaimed_legacy_rows().await.expect("count"), 2);
    assert_eq!(store.claim_legacy_rows("wxlegacy").await.expect("claim"), 2);
    assert_eq!(store.unclaimed_legacy_rows().await.expect("count"), 0);
    assert_eq!(store.claim_legacy_rows("wxlegacy").await.expect("again"), 0);

    let user = store
        .find_user("u-old")
        .await
        .expect("query")
        .expect("kept");
    assert_eq!(
        (
            user.nick_name.as_deref(),
            user.gender,
            user.phone_number.as_deref(),
            user.created_at,
            user.updated_at
        ),
        (Some("Old"), Some(1), Some("13800138000"), 100, 200)
    );
    assert_eq!(user.apps, ["wxlegacy"]);
    assert_eq!(
        store.openid("u-old", "wxlegacy").await.expect("query"),
        Some(OpenId::new("o-old"))
    );
    let session = store
        .find_session("s-old")
        .await
        .expect("query")
        .expect("kept");
    assert_eq!(
        (session.user_id.as_str(), session.appid.as_str()),
        ("u-old", "wxlegacy")
    );
    assert_eq!(
        store.session_key("s-old").await.expect("still opens"),
        Some(SessionKey::new("tiihtNczf5v6AKRyjwEUhQ==")),
        "the sealed value is bound to its user, which kept its id"
    );
    assert_eq!(
        store
            .find_session("s-ended")
            .await
            .expect("query")
            .and_then(|s| s.revoked_at),
        Some(150)
    );
    let returning = store
        .open_login(&NewLogin {
            appid: "wxlegacy".into(),
            openid: OpenId::new("o-old"),
            unionid: None,
            session_key: SessionKey::new("new-key"),
            created_at: NOW,
            expires_at: NOW + 60,
            login_code: None,
        })
        .await
        .expect("login");
    assert_eq!(
        (returning.user.id.as_str(), returning.created),
        ("u-old", false)
    );
    let by_unionid = store
        .open_login(&NewLogin {
            appid: "wxother".into(),
            openid: OpenId::new("o-union-elsewhere"),
            unionid: Some(UnionId::new("union-w")),
            session_key: SessionKey::new("k"),
            created_at: NOW,
            expires_at: NOW + 60,
            login_code: None,
        })
        .await
        .expect("login");
    assert_eq!(
        by_unionid.user.id, "u-union",
        "the unionid it had still links"
    );
}

/// A login's code digest finds its session (and whether it found an account) from any
/// instance, within the window asked for; a login without one is never found.
async fn a_login_is_found_again_by_its_code_within_the_window(store: &DieselStore) {
    let login = |code: Option<&str>, at: i64| NewLogin {
        appid: APP.to_owned(),
        openid: OpenId::new("openid-coded"),
        unionid: None,
        session_key: SessionKey::new(format!("key-{at}")),
        created_at: at,
        expires_at: at + 3600,
        login_code: code.map(str::to_owned),
    };
    let first = store
        .open_login(&login(Some("digest-1"), NOW))
        .await
        .expect("login");
    let second = store
        .open_login(&login(Some("digest-2"), NOW + 5))
        .await
        .expect("login");
    store
        .open_login(&login(None, NOW + 6))
        .await
        .expect("login");

    let found = store
        .find_login_by_code("digest-1", NOW - 10)
        .await
        .expect("query")
        .expect("found");
    assert_eq!(found.session, first.session);
    assert!(!found.user_existed, "the first login created the account");
    let found = store
        .find_login_by_code("digest-2", NOW)
        .await
        .expect("query")
        .expect("found");
    assert_eq!(found.session.id, second.session.id);
    assert!(found.user_existed);
    assert_eq!(
        store
            .find_login_by_code("digest-1", NOW + 1)
            .await
            .expect("query"),
        None,
        "opened before the window"
    );
    assert_eq!(
        store
            .find_login_by_code("digest-3", 0)
            .await
            .expect("query"),
        None
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

macro_rules! contract {
    ($($case:ident),* ; $($on_db:ident),* $(,)?) => {
        mod sqlite {
            use super::*;
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() { let db = TestDatabase::sqlite(); super::$case(&open(&db).await).await; })*
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $on_db() { super::$on_db(&TestDatabase::sqlite()).await; })*
        }
        mod postgres {
            use super::*;
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() { if let Some(db) = TestDatabase::postgres() { super::$case(&open(&db).await).await; } })*
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $on_db() { if let Some(db) = TestDatabase::postgres() { super::$on_db(&db).await; } })*
        }
    };
}

contract!(
    first_login_creates_a_user_and_the_next_finds_it,
    a_session_is_read_with_its_user_and_the_users_apps,
    a_login_is_found_again_by_its_code_within_the_window,
    the_public_id_is_a_random_uuid_not_derived_from_the_openid,
    a_unionid_is_kept_and_filled_in_later_if_it_was_missing,
    concurrent_first_logins_of_one_user_create_exactly_one_account,
    find_user_by_public_id,
    profile_updates_are_partial_and_null_clears,
    sessions_are_created_found_and_hold_the_session_key,
    a_session_for_a_missing_user_is_refused,
    revoking_ends_a_session_once,
    expiring_a_session_ends_its_lifetime_now,
    the_latest_live_session_holds_the_current_session_key,
    purging_removes_only_ended_sessions,
    one_lease_at_a_time_for_the_access_token_refresh,
    expiring_an_access_token_is_a_compare_and_set,
    a_login_finds_or_creates_the_user_and_opens_a_session_in_one_step,
    concurrent_first_logins_in_one_step_create_one_account,
    a_crowd_of_logins_each_gets_its_own_session_and_one_account_per_person,
    one_person_logging_in_through_two_apps_is_one_account,
    a_later_unionid_merges_the_newer_account_into_the_older,
    the_older_account_stays_even_when_the_newer_holds_the_unionid,
    concurrent_logins_of_one_person_through_two_apps_create_one_account,
    concurrent_logins_revealing_one_unionid_merge_once,
    every_session_of_an_account_ends_at_once,
    an_identity_is_deleted_alone_unless_it_is_the_accounts_last,
    a_deletion_racing_logins_of_the_same_person_leaves_no_half_account,
    a_deletion_after_a_merge_deletes_the_account_the_person_is_now,
    an_update_older_than_the_profiles_last_change_is_not_applied;
    data_survives_reopening_the_database,
    every_method_works_with_a_pool_of_one_connection,
    session_keys_are_stored_sealed_not_in_plain_text,
    changes_are_announced_to_every_listener,
    a_whole_burst_of_calls_waits_for_permits_instead_of_failing,
    the_upgrade_to_identities_keeps_every_user_session_and_sealed_key,
    a_deleted_account_leaves_nothing_of_the_person_in_any_table,
    an_ended_sessions_session_key_is_erased_at_once,
    a_sessions_key_opens_for_that_session_only,
);

async fn a_whole_burst_of_calls_waits_for_permits_instead_of_failing(db: &TestDatabase) {
    // Two connections and a short pool timeout: 64 calls at once would time out waiting for a
    // connection on blocking threads; waiting for a permit first, they all get one in turn.
    let store = open_with(
        db,
        PoolOptions {
            max_size: 2,
            connection_timeout: std::time::Duration::from_millis(500),
            ..PoolOptions::default()
        },
    )
    .await;
    let (user, _) = store
        .find_or_create_user(APP, &openid("burst"), None, NOW)
        .await
        .expect("create");
    let calls: Vec<_> = (0..64)
        .map(|_| {
            let (store, id) = (store.clone(), user.id.clone());
            tokio::spawn(async move { store.find_user(&id).await })
        })
        .collect();
    for call in calls {
        assert!(call.await.expect("task").expect("answered").is_some());
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

#[test]
fn a_sqlite_file_another_process_serves_is_refused() {
    let db = TestDatabase::sqlite();
    let path = db.url().trim_start_matches("sqlite://").to_owned();
    std::fs::write(&path, b"").expect("the file");
    // What another process serving the file holds.
    let other = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(format!("{path}-lock"))
        .expect("lock file");
    other.try_lock().expect("locked");
    match DieselStore::connect(db.url(), &PoolOptions::default(), test_sealer()) {
        Err(e @ StoreError::Unavailable(_)) => {
            let chain = wxlogin_domain::error_chain(&e);
            assert!(chain.contains("another process serves"), "{chain}");
        }
        other => panic!("{other:?}"),
    }
    drop(other);
    assert!(
        DieselStore::connect(db.url(), &PoolOptions::default(), test_sealer()).is_ok(),
        "free again once that process lets go"
    );
}

/// The lock is named after the file, not the path given: a second process reaching the file
/// through a symlink meets the first one's lock.
#[test]
fn a_sqlite_file_reached_through_a_symlink_is_refused_too() {
    let db = TestDatabase::sqlite();
    let path = db.url().trim_start_matches("sqlite://").to_owned();
    std::fs::write(&path, b"").expect("the file");
    let link = format!("{path}-link.db");
    struct Removed(String);
    impl Drop for Removed {
        fn drop(&mut self) {
            for suffix in ["", "-lock"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", self.0));
            }
        }
    }
    let _removed = Removed(link.clone());
    std::os::unix::fs::symlink(&path, &link).expect("symlink");
    let other = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(format!("{path}-lock"))
        .expect("lock file");
    other.try_lock().expect("locked");
    match DieselStore::connect(
        &format!("sqlite://{link}"),
        &PoolOptions::default(),
        test_sealer(),
    ) {
        Err(e @ StoreError::Unavailable(_)) => {
            let chain = wxlogin_domain::error_chain(&e);
            assert!(chain.contains("another process serves"), "{chain}");
        }
        other => panic!("{other:?}"),
    }
}

/// SQLite keeps deleted rows in free pages, and the old versions of pages in its write-ahead
/// log: a deleted person's phone number must be in neither.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_phone_number_is_not_left_in_the_sqlite_files() {
    let db = TestDatabase::sqlite();
    let store = open(&db).await;
    let path = db.url().trim_start_matches("sqlite://").to_owned();
    let first = login_through(&store, APP, "erased", None, NOW).await;
    let marker = "13912340987";
    store
        .update_profile(
            &first.user.id,
            &ProfileUpdate {
                phone_number: Some(Some(marker.into())),
                nick_name: Some(Some("Erased Nickname Marker".into())),
                ..ProfileUpdate::default()
            },
            NOW + 1,
        )
        .await
        .expect("update")
        .expect("exists");
    let on_disk = || {
        ["", "-wal"]
            .iter()
            .filter_map(|suffix| std::fs::read(format!("{path}{suffix}")).ok())
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .collect::<String>()
    };
    assert!(on_disk().contains(marker), "the scan sees it while stored");
    store
        .delete_account(
            &first.user.id,
            APP,
            &OpenId::new(format!("openid-{APP}-erased")),
        )
        .await
        .expect("delete")
        .expect("deleted");
    let after = on_disk();
    assert!(!after.contains(marker), "the phone number is still on disk");
    assert!(!after.contains("Erased Nickname Marker"));
}

#[test]
fn stores_of_one_process_share_a_sqlite_file() {
    let db = TestDatabase::sqlite();
    let first = DieselStore::connect(db.url(), &PoolOptions::default(), test_sealer());
    let second = DieselStore::connect(db.url(), &PoolOptions::default(), test_sealer());
    assert!(first.is_ok() && second.is_ok());
}

async fn a_crowd_of_logins_each_gets_its_own_session_and_one_account_per_person(
    store: &DieselStore,
) {
    // On SQLite these are committed together, many to a transaction: each must still be its own.
    let logins: Vec<_> = (0..200)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let person = i % 20;
                let opened = store
                    .open_login(&NewLogin {
                        appid: APP.to_owned(),
                        openid: openid(&format!("crowd-{person}")),
                        unionid: None,
                        session_key: SessionKey::new(format!("key-{i}")),
                        created_at: NOW,
                        expires_at: NOW + 60,
                        login_code: None,
                    })
                    .await
                    .expect("login");
                (person, i, opened)
            })
        })
        .collect();
    let mut accounts = std::collections::HashMap::new();
    let mut sessions = std::collections::HashSet::new();
    for login in logins {
        let (person, i, opened) = login.await.expect("task");
        assert_eq!(
            accounts
                .entry(person)
                .or_insert_with(|| opened.user.id.clone()),
            &opened.user.id,
            "one account per person"
        );
        assert!(
            sessions.insert(opened.session.id.clone()),
            "a session of its own"
        );
        assert_eq!(
            store.session_key(&opened.session.id).await.expect("query"),
            Some(SessionKey::new(format!("key-{i}")))
        );
    }
    assert_eq!(accounts.len(), 20);
    assert_eq!(
        accounts
            .values()
            .collect::<std::collections::HashSet<_>>()
            .len(),
        20
    );
}
