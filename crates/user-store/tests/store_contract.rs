//! One contract, run against real SQLite and real PostgreSQL.

use std::sync::{Arc, Barrier};

use wxlogin_store::testing::{TestDatabase, test_sealer};
use wxlogin_store::{
    DieselUserStore, NewLogin, NewSession, PoolOptions, ProfileUpdate, SessionKeySealer,
    StoreChange, StoreError, UserStore,
};
use wxlogin_wechat::{AccessToken, OpenId, SessionKey, UnionId};

const NOW: i64 = 1_800_000_000;

fn open(db: &TestDatabase) -> DieselUserStore {
    let store = DieselUserStore::connect(
        db.url(),
        &PoolOptions {
            max_size: 8,
            ..PoolOptions::default()
        },
        test_sealer(),
    )
    .expect("database reachable");
    store.run_migrations().expect("migrations apply");
    store
}

fn openid(name: &str) -> OpenId {
    OpenId::new(format!("openid-{name}"))
}

fn new_session(user_id: &str, key: &str, created_at: i64) -> NewSession {
    NewSession {
        user_id: user_id.to_owned(),
        session_key: SessionKey::new(key),
        created_at,
        expires_at: created_at + 3600,
    }
}

fn first_login_creates_a_user_and_the_next_finds_it(store: &DieselUserStore) {
    let (created, was_created) = store
        .find_or_create_user(&openid("a"), None, NOW)
        .expect("create");
    assert!(was_created);
    assert_eq!(created.openid, openid("a"));
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
        .find_or_create_user(&openid("a"), None, NOW + 5)
        .expect("find");
    assert!(!was_created);
    assert_eq!(found, created);
}

fn the_public_id_is_a_random_uuid_not_derived_from_the_openid(store: &DieselUserStore) {
    let (user, _) = store
        .find_or_create_user(&openid("b"), None, NOW)
        .expect("create");
    assert_eq!(user.id.len(), 36);
    assert!(!user.id.contains("openid"));
    assert!(uuid_like(&user.id), "{}", user.id);
    let (other, _) = store
        .find_or_create_user(&openid("c"), None, NOW)
        .expect("create");
    assert_ne!(user.id, other.id);
}

fn uuid_like(id: &str) -> bool {
    id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') && id.matches('-').count() == 4
}

fn a_unionid_is_kept_and_filled_in_later_if_it_was_missing(store: &DieselUserStore) {
    let (user, _) = store
        .find_or_create_user(&openid("d"), None, NOW)
        .expect("create");
    assert_eq!(user.unionid, None);
    let unionid = UnionId::new("union-d");
    let (user, _) = store
        .find_or_create_user(&openid("d"), Some(&unionid), NOW)
        .expect("find");
    assert_eq!(user.unionid, Some(unionid.clone()));
    let other = UnionId::new("union-other");
    let (user, _) = store
        .find_or_create_user(&openid("d"), Some(&other), NOW)
        .expect("find");
    assert_eq!(
        user.unionid,
        Some(unionid),
        "a recorded unionid is not overwritten"
    );
}

fn concurrent_first_logins_of_one_user_create_exactly_one_account(store: &DieselUserStore) {
    const RACERS: usize = 16;
    let barrier = Arc::new(Barrier::new(RACERS));
    let results: Vec<_> = (0..RACERS)
        .map(|_| {
            let (store, barrier) = (store.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                store.find_or_create_user(&openid("racer"), None, NOW)
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| {
            t.join()
                .expect("no panic")
                .expect("no error under contention")
        })
        .collect();
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

fn find_user_by_public_id(store: &DieselUserStore) {
    let (user, _) = store
        .find_or_create_user(&openid("e"), None, NOW)
        .expect("create");
    assert_eq!(store.find_user(&user.id).expect("query"), Some(user));
    assert_eq!(store.find_user("no-such-user").expect("query"), None);
}

fn profile_updates_are_partial_and_null_clears(store: &DieselUserStore) {
    let (user, _) = store
        .find_or_create_user(&openid("f"), None, NOW)
        .expect("create");
    let update = ProfileUpdate {
        nick_name: Some(Some("小明 🐼".into())),
        avatar_url: Some(Some("https://example.com/a.png".into())),
        gender: Some(Some(1)),
        phone_number: Some(Some("+1 650-555-0100".into())),
    };
    let updated = store
        .update_profile(&user.id, &update, NOW + 10)
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
        .expect("query")
        .expect("exists");
    assert_eq!(updated.avatar_url, None);
    assert_eq!(
        updated.nick_name.as_deref(),
        Some("小明 🐼"),
        "absent fields stay"
    );
    assert_eq!(store.find_user(&user.id).expect("query"), Some(updated));

    assert_eq!(
        store
            .update_profile("nobody", &clear_avatar, NOW)
            .expect("query"),
        None
    );
}

fn sessions_are_created_found_and_hold_the_session_key(store: &DieselUserStore) {
    let (user, _) = store
        .find_or_create_user(&openid("g"), None, NOW)
        .expect("create");
    let session = store
        .create_session(&new_session(&user.id, "key-g", NOW))
        .expect("create");
    assert_eq!(session.user_id, user.id);
    assert_eq!(
        store
            .session_key(&session.id)
            .expect("query")
            .as_ref()
            .map(SessionKey::expose),
        Some("key-g")
    );
    assert_eq!(store.session_key("no-such-session").expect("query"), None);
    assert_eq!(session.revoked_at, None);
    assert_eq!(
        store.find_session(&session.id).expect("query"),
        Some(session.clone())
    );
    assert_eq!(store.find_session("no-such-session").expect("query"), None);
    let second = store
        .create_session(&new_session(&user.id, "key-g2", NOW))
        .expect("create");
    assert_ne!(second.id, session.id, "session ids are unique");
}

fn a_session_for_a_missing_user_is_refused(store: &DieselUserStore) {
    let result = store.create_session(&new_session("no-such-user", "k", NOW));
    assert!(matches!(result, Err(StoreError::Query(_))), "{result:?}");
}

fn revoking_ends_a_session_once(store: &DieselUserStore) {
    let (user, _) = store
        .find_or_create_user(&openid("h"), None, NOW)
        .expect("create");
    let session = store
        .create_session(&new_session(&user.id, "key-h", NOW))
        .expect("create");
    assert!(store.revoke_session(&session.id, NOW + 1).expect("query"));
    assert!(
        !store.revoke_session(&session.id, NOW + 2).expect("query"),
        "already ended"
    );
    assert_eq!(
        store
            .find_session(&session.id)
            .expect("query")
            .and_then(|s| s.revoked_at),
        Some(NOW + 1)
    );
    assert!(!store.revoke_session("no-such-session", NOW).expect("query"));
}

fn expiring_a_session_ends_its_lifetime_now(store: &DieselUserStore) {
    let (user, _) = store
        .find_or_create_user(&openid("i"), None, NOW)
        .expect("create");
    let session = store
        .create_session(&new_session(&user.id, "key-i", NOW))
        .expect("create");
    assert!(!session.is_expired_at(NOW + 10));
    assert!(store.expire_session(&session.id, NOW + 10).expect("query"));
    let expired = store
        .find_session(&session.id)
        .expect("query")
        .expect("still there");
    assert!(expired.is_expired_at(NOW + 10));
    assert!(!store.expire_session("no-such-session", NOW).expect("query"));
}

fn every_method_works_with_a_pool_of_one_connection(db: &TestDatabase) {
    // A method that held one pooled connection while asking for another would wait out the
    // pool timeout here and fail.
    let store = DieselUserStore::connect(
        db.url(),
        &PoolOptions {
            max_size: 1,
            connection_timeout: std::time::Duration::from_secs(2),
        },
        test_sealer(),
    )
    .expect("database reachable");
    store.run_migrations().expect("migrations apply");
    let (user, _) = store
        .find_or_create_user(&openid("m"), Some(&UnionId::new("u-m")), NOW)
        .expect("create");
    store
        .find_or_create_user(&openid("m"), Some(&UnionId::new("u-m")), NOW)
        .expect("find");
    let update = ProfileUpdate {
        nick_name: Some(Some("m".into())),
        ..ProfileUpdate::default()
    };
    store
        .update_profile(&user.id, &update, NOW)
        .expect("update")
        .expect("exists");
    let session = store
        .create_session(&new_session(&user.id, "key-m", NOW))
        .expect("create");
    assert!(store.expire_session(&session.id, NOW + 1).expect("expire"));
    assert!(
        store
            .expire_session(&session.id, NOW + 2)
            .expect("already expired, still there")
    );
    assert!(store.revoke_session(&session.id, NOW + 3).expect("revoke"));
    store.latest_live_session(&user.id, NOW).expect("query");
    store.purge_sessions(NOW).expect("purge");
    store.session_key(&session.id).expect("session key");
    store.ping().expect("ping");
    assert!(
        store
            .lease_access_token_refresh("wxapp", "me", NOW, NOW + 30)
            .expect("lease")
    );
    let token = AccessToken::new("AT");
    store
        .save_access_token("wxapp", "me", &token, NOW + 7000, 1)
        .expect("save");
    store.load_access_token("wxapp").expect("load");
    store.expire_access_token("wxapp", &token).expect("expire");
    store
        .release_access_token_lease("wxapp", "me", 0)
        .expect("release");
}

fn the_latest_live_session_holds_the_current_session_key(store: &DieselUserStore) {
    let (user, _) = store
        .find_or_create_user(&openid("j"), None, NOW)
        .expect("create");
    assert_eq!(
        store.latest_live_session(&user.id, NOW).expect("query"),
        None
    );
    store
        .create_session(&new_session(&user.id, "old", NOW))
        .expect("create");
    let newest = store
        .create_session(&new_session(&user.id, "new", NOW + 5))
        .expect("create");
    assert_eq!(
        store
            .latest_live_session(&user.id, NOW + 6)
            .expect("query")
            .map(|s| s.id),
        Some(newest.id.clone())
    );
    store.revoke_session(&newest.id, NOW + 7).expect("revoke");
    let live = store
        .latest_live_session(&user.id, NOW + 8)
        .expect("query")
        .expect("the old one");
    assert_eq!(
        store
            .session_key(&live.id)
            .expect("query")
            .as_ref()
            .map(SessionKey::expose),
        Some("old")
    );
    assert_eq!(
        store
            .latest_live_session(&user.id, NOW + 3601)
            .expect("query"),
        None,
        "all expired"
    );
}

fn purging_removes_only_ended_sessions(store: &DieselUserStore) {
    let (user, _) = store
        .find_or_create_user(&openid("k"), None, NOW)
        .expect("create");
    let live = store
        .create_session(&new_session(&user.id, "live", NOW + 100))
        .expect("create");
    let expired = store
        .create_session(&new_session(&user.id, "expired", NOW - 7200))
        .expect("create");
    let revoked = store
        .create_session(&new_session(&user.id, "revoked", NOW))
        .expect("create");
    store.revoke_session(&revoked.id, NOW).expect("revoke");
    assert_eq!(store.purge_sessions(NOW + 1).expect("purge"), 2);
    assert!(store.find_session(&live.id).expect("query").is_some());
    assert!(store.find_session(&expired.id).expect("query").is_none());
    assert!(store.find_session(&revoked.id).expect("query").is_none());
}

fn data_survives_reopening_the_database(db: &TestDatabase) {
    let store = open(db);
    let (user, _) = store
        .find_or_create_user(&openid("l"), None, NOW)
        .expect("create");
    let session = store
        .create_session(&new_session(&user.id, "key-l", NOW))
        .expect("create");
    drop(store);
    let store = open(db);
    assert_eq!(store.find_user(&user.id).expect("query"), Some(user));
    assert_eq!(
        store.find_session(&session.id).expect("query"),
        Some(session)
    );
    assert!(
        store.run_migrations().expect("idempotent").is_empty(),
        "nothing left to apply"
    );
    store.ping().expect("answers");
}

fn session_keys_are_stored_sealed_not_in_plain_text(db: &TestDatabase) {
    let store = open(db);
    let (user, _) = store
        .find_or_create_user(&openid("s"), None, NOW)
        .expect("create");
    let session = store
        .create_session(&new_session(&user.id, "tiihtNczf5v6AKRyjwEUhQ==", NOW))
        .expect("create");
    drop(store);
    // What a database dump shows.
    let raw = raw_session_key(db, &session.id);
    assert!(raw.starts_with("v1."), "{raw}");
    assert!(!raw.contains("tiihtNczf5v6AKRyjwEUhQ"), "{raw}");
    // Another server secret cannot open it: a typed error, not a wrong key.
    let other = DieselUserStore::connect(
        db.url(),
        &PoolOptions::default(),
        SessionKeySealer::new(b"another server's secret, 32 bytes+").expect("sealer"),
    )
    .expect("database reachable");
    assert!(matches!(
        other.session_key(&session.id),
        Err(StoreError::Sealed(_))
    ));
    // The same secret kept as the previous one after a rotation still opens it.
    let rotated = DieselUserStore::connect(
        db.url(),
        &PoolOptions::default(),
        SessionKeySealer::new(b"another server's secret, 32 bytes+")
            .and_then(|s| s.with_previous(b"wxlogin test sealing secret, not a secret"))
            .expect("sealer"),
    )
    .expect("database reachable");
    assert_eq!(
        rotated
            .session_key(&session.id)
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

fn one_lease_at_a_time_for_the_access_token_refresh(store: &DieselUserStore) {
    assert_eq!(store.load_access_token("wxapp").expect("load"), None);
    assert!(
        store
            .lease_access_token_refresh("wxapp", "a", NOW, NOW + 30)
            .expect("lease")
    );
    assert!(
        !store
            .lease_access_token_refresh("wxapp", "b", NOW + 1, NOW + 31)
            .expect("lease"),
        "a holds it"
    );
    assert!(
        store
            .lease_access_token_refresh("wxapp", "a", NOW + 1, NOW + 31)
            .expect("lease"),
        "its holder may renew it"
    );
    assert!(
        store
            .lease_access_token_refresh("otherapp", "b", NOW + 1, NOW + 31)
            .expect("lease"),
        "leases are per app"
    );
    let total = store
        .save_access_token("wxapp", "a", &AccessToken::new("AT-1"), NOW + 7000, 1)
        .expect("save");
    assert_eq!(total, 1);
    let stored = store
        .load_access_token("wxapp")
        .expect("load")
        .expect("stored");
    assert_eq!(
        (stored.token.expose(), stored.use_until, stored.fetches),
        ("AT-1", NOW + 7000, 1)
    );
    assert!(
        !store
            .lease_access_token_refresh("wxapp", "b", NOW + 2, NOW + 32)
            .expect("lease"),
        "no lease while a usable token is stored"
    );
    assert!(
        store
            .lease_access_token_refresh("wxapp", "b", NOW + 7000, NOW + 7030)
            .expect("lease"),
        "saving released the lease, and the token is due"
    );
    store
        .release_access_token_lease("wxapp", "b", 2)
        .expect("release");
    assert_eq!(
        store
            .load_access_token("wxapp")
            .expect("load")
            .map(|t| t.fetches),
        Some(3),
        "failed fetches count too"
    );
    assert!(
        store
            .lease_access_token_refresh("wxapp", "c", NOW + 7001, NOW + 7031)
            .expect("lease"),
        "releasing freed the lease"
    );
    assert!(
        store
            .lease_access_token_refresh("wxapp", "d", NOW + 7032, NOW + 7062)
            .expect("lease"),
        "an abandoned lease runs out"
    );
}

fn expiring_an_access_token_is_a_compare_and_set(store: &DieselUserStore) {
    let old = AccessToken::new("AT-old");
    let new = AccessToken::new("AT-new");
    store
        .save_access_token("wxapp", "a", &old, NOW + 7000, 1)
        .expect("save");
    assert!(store.expire_access_token("wxapp", &old).expect("expire"));
    assert_eq!(
        store
            .load_access_token("wxapp")
            .expect("load")
            .map(|t| t.use_until),
        Some(0)
    );
    store
        .save_access_token("wxapp", "b", &new, NOW + 7000, 1)
        .expect("save");
    assert!(
        !store.expire_access_token("wxapp", &old).expect("expire"),
        "a late report about the old token leaves the new one alone"
    );
    assert_eq!(
        store
            .load_access_token("wxapp")
            .expect("load")
            .map(|t| (t.token, t.use_until)),
        Some((new, NOW + 7000))
    );
    assert!(
        !store
            .expire_access_token("nosuchapp", &old)
            .expect("expire")
    );
}

fn a_login_finds_or_creates_the_user_and_opens_a_session_in_one_step(store: &DieselUserStore) {
    let login = |key: &str, unionid: Option<&str>| NewLogin {
        openid: openid("o"),
        unionid: unionid.map(UnionId::new),
        session_key: SessionKey::new(key),
        created_at: NOW,
        expires_at: NOW + 60,
    };
    let first = store.open_login(&login("k1", None)).expect("first login");
    assert!(first.created);
    assert_eq!(first.session.user_id, first.user.id);
    assert_eq!(first.session.expires_at, NOW + 60);
    assert_eq!(
        store.session_key(&first.session.id).expect("query"),
        Some(SessionKey::new("k1"))
    );
    let again = store
        .open_login(&login("k2", Some("union-o")))
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
        store.find_session(&again.session.id).expect("query"),
        Some(again.session.clone())
    );
}

fn concurrent_first_logins_in_one_step_create_one_account(store: &DieselUserStore) {
    let store = Arc::new(store.clone());
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                store
                    .open_login(&NewLogin {
                        openid: openid("race"),
                        unionid: None,
                        session_key: SessionKey::new(format!("k{i}")),
                        created_at: NOW,
                        expires_at: NOW + 60,
                    })
                    .expect("login")
            })
        })
        .collect();
    let logins: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .collect();
    assert_eq!(logins.iter().filter(|l| l.created).count(), 1);
    assert!(logins.iter().all(|l| l.user.id == logins[0].user.id));
}

fn changes_are_announced_to_every_listener(db: &TestDatabase) {
    let here = open(db);
    let elsewhere = open(db);
    let (tx, rx) = std::sync::mpsc::channel();
    let listener = here
        .listen_for_changes(move |change| {
            let _ = tx.send(change);
        })
        .expect("listener starts");
    if db.url().starts_with("sqlite") {
        assert!(listener.is_none(), "one process serves a SQLite file");
        return;
    }
    let next = || {
        rx.recv_timeout(std::time::Duration::from_secs(10))
            .expect("an announcement arrives")
    };
    assert_eq!(
        next(),
        StoreChange::Missed,
        "connecting may have missed some"
    );

    let (user, _) = elsewhere
        .find_or_create_user(&openid("n"), None, NOW)
        .expect("create");
    let first = elsewhere
        .create_session(&new_session(&user.id, "k", NOW))
        .expect("session");
    let second = elsewhere
        .create_session(&new_session(&user.id, "k", NOW))
        .expect("session");
    elsewhere.revoke_session(&first.id, NOW).expect("revoke");
    elsewhere
        .revoke_session(&first.id, NOW)
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
        .expect("update");
    elsewhere
        .expire_session(&second.id, NOW + 1)
        .expect("expire");

    assert_eq!(next(), StoreChange::SessionEnded(first.id));
    assert_eq!(next(), StoreChange::UserChanged(user.id));
    assert_eq!(next(), StoreChange::SessionEnded(second.id));
    drop(listener);
}

macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            use super::*;
            $(#[test] fn $case() { let db = TestDatabase::sqlite(); super::$case(&open(&db)); })*
            #[test] fn data_survives_reopening_the_database() { super::data_survives_reopening_the_database(&TestDatabase::sqlite()); }
            #[test] fn every_method_works_with_a_pool_of_one_connection() { super::every_method_works_with_a_pool_of_one_connection(&TestDatabase::sqlite()); }
            #[test] fn session_keys_are_stored_sealed_not_in_plain_text() { super::session_keys_are_stored_sealed_not_in_plain_text(&TestDatabase::sqlite()); }
            #[test] fn changes_are_announced_to_every_listener() { super::changes_are_announced_to_every_listener(&TestDatabase::sqlite()); }
        }
        mod postgres {
            use super::*;
            $(#[test] fn $case() { if let Some(db) = TestDatabase::postgres() { super::$case(&open(&db)); } })*
            #[test] fn data_survives_reopening_the_database() {
                if let Some(db) = TestDatabase::postgres() { super::data_survives_reopening_the_database(&db); }
            }
            #[test] fn every_method_works_with_a_pool_of_one_connection() {
                if let Some(db) = TestDatabase::postgres() { super::every_method_works_with_a_pool_of_one_connection(&db); }
            }
            #[test] fn session_keys_are_stored_sealed_not_in_plain_text() {
                if let Some(db) = TestDatabase::postgres() { super::session_keys_are_stored_sealed_not_in_plain_text(&db); }
            }
            #[test] fn changes_are_announced_to_every_listener() {
                if let Some(db) = TestDatabase::postgres() { super::changes_are_announced_to_every_listener(&db); }
            }
        }
    };
}

contract!(
    first_login_creates_a_user_and_the_next_finds_it,
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
);
