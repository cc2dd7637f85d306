//! Logins: the account of an openid found or created, alone or with its session in one
//! step, under contention, and a login found again by its code.

use std::sync::Arc;

use tokio::sync::Barrier;

use wxlogin_domain::{NewLogin, OpenId, SessionKey, SessionStore, UnionId, UserStore};
use wxlogin_user_store::DieselStore;
use wxlogin_user_store::testing::{TestDatabase, audit_at};

use crate::support::{APP, NOW, OTHER_APP, execute, open, openid};

contract!(
    first_login_creates_a_user_and_the_next_finds_it,
    a_login_is_found_again_by_its_code_within_the_window,
    a_login_code_is_forgotten_once_purged_or_its_session_deleted,
    the_public_id_is_a_random_uuid_not_derived_from_the_openid,
    a_unionid_is_kept_and_filled_in_later_if_it_was_missing,
    concurrent_first_logins_of_one_user_create_exactly_one_account,
    find_user_by_public_id,
    a_login_finds_or_creates_the_user_and_opens_a_session_in_one_step,
    concurrent_first_logins_in_one_step_create_one_account,
    a_crowd_of_logins_each_gets_its_own_session_and_one_account_per_person;
    a_login_that_fails_in_a_crowd_costs_the_others_nothing,
);

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

async fn a_login_finds_or_creates_the_user_and_opens_a_session_in_one_step(store: &DieselStore) {
    let login = |key: &str, unionid: Option<&str>| NewLogin {
        appid: APP.to_owned(),
        openid: openid("o"),
        unionid: unionid.map(UnionId::new),
        session_key: SessionKey::new(key),
        created_at: NOW,
        expires_at: NOW + 60,
        login_code: None,
        client_addr: None,
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
                        client_addr: None,
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
        client_addr: None,
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

/// The record of a code lives for the replay window only: purged, it is found no more, and the
/// session it opened stays; a session deleted with its account takes its code's answer along.
/// Every way a login opens its session records the code (a returning user, a first login, a
/// login that links a unionid under the person's lock).
async fn a_login_code_is_forgotten_once_purged_or_its_session_deleted(store: &DieselStore) {
    let login = |openid: &str, unionid: Option<&str>, code: &str, at: i64| NewLogin {
        appid: APP.to_owned(),
        openid: OpenId::new(openid),
        unionid: unionid.map(UnionId::new),
        session_key: SessionKey::new(format!("key-{code}")),
        created_at: at,
        expires_at: at + 3600,
        login_code: Some(code.to_owned()),
        client_addr: None,
    };
    let first = store
        .open_login(&login("openid-purged", None, "digest-first", NOW))
        .await
        .expect("first login");
    let returning = store
        .open_login(&login("openid-purged", None, "digest-returning", NOW + 10))
        .await
        .expect("returning login");
    let linked = store
        .open_login(&login(
            "openid-linked",
            Some("union-p"),
            "digest-linked",
            NOW + 10,
        ))
        .await
        .expect("login with a unionid");
    for (code, opened) in [
        ("digest-first", &first),
        ("digest-returning", &returning),
        ("digest-linked", &linked),
    ] {
        let found = store.find_login_by_code(code, 0).await.expect("query");
        assert_eq!(
            found.map(|f| f.session),
            Some(opened.session.clone()),
            "{code}"
        );
    }
    assert_eq!(
        store.purge_sessions(NOW + 5).await.expect("purge"),
        0,
        "no session ended"
    );
    for code in ["digest-first", "digest-returning", "digest-linked"] {
        assert!(
            store
                .find_login_by_code(code, 0)
                .await
                .expect("query")
                .is_some(),
            "{code}: the purge of ended sessions leaves the codes of live ones"
        );
    }

    assert_eq!(store.purge_login_codes(NOW + 10).await.expect("purge"), 1);
    assert_eq!(
        store
            .find_login_by_code("digest-first", 0)
            .await
            .expect("query"),
        None,
        "purged"
    );
    assert_eq!(
        store.find_session(&first.session.id).await.expect("query"),
        Some(first.session.clone()),
        "the session stays"
    );
    assert!(
        store
            .find_login_by_code("digest-returning", 0)
            .await
            .expect("query")
            .is_some(),
        "recorded at the purge's bound: kept"
    );

    store
        .delete_account(
            &linked.user.id,
            APP,
            &OpenId::new("openid-linked"),
            &audit_at(NOW),
        )
        .await
        .expect("delete")
        .expect("deleted");
    assert_eq!(
        store
            .find_login_by_code("digest-linked", 0)
            .await
            .expect("query"),
        None,
        "its session went with the account"
    );
    assert_eq!(
        store.purge_login_codes(NOW + 11).await.expect("purge"),
        1,
        "only the returning login's record was left: the deleted one went with its session"
    );
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
                        client_addr: None,
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

/// Logins that queue together are written in one transaction. One of them failing in the
/// database (here a trigger refusing sessions of one app, as a constraint or a lost race would)
/// leaves nothing of itself behind and costs the others nothing: each of them is answered with
/// its session, stored.
async fn a_login_that_fails_in_a_crowd_costs_the_others_nothing(db: &TestDatabase) {
    const REFUSED: &str = "wxrefused";
    let store = open(db).await;
    if db.url().starts_with("sqlite://") {
        execute(
            db,
            &format!(
                "CREATE TRIGGER refuse BEFORE INSERT ON sessions WHEN NEW.appid = '{REFUSED}' \
                 BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;"
            ),
        );
    } else {
        execute(
            db,
            &format!(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                 IF NEW.appid = '{REFUSED}' THEN RAISE EXCEPTION 'refused by the test'; END IF; \
                 RETURN NEW; END $$; \
                 CREATE TRIGGER refuse BEFORE INSERT ON sessions FOR EACH ROW EXECUTE FUNCTION refuse();"
            ),
        );
    }
    let login = |appid: &str, person: usize, i: usize| NewLogin {
        appid: appid.to_owned(),
        openid: openid(&format!("crowd-{person}")),
        unionid: None,
        session_key: SessionKey::new(format!("key-{i}")),
        created_at: NOW,
        expires_at: NOW + 60,
        login_code: Some(format!("digest-{i}")),
        client_addr: None,
    };
    // Half of them come back: their accounts exist before the crowd.
    for person in 0..10 {
        store
            .open_login(&login(APP, person, 1000 + person))
            .await
            .expect("first login");
    }
    let crowd: Vec<_> = (0..120)
        .map(|i| {
            let store = store.clone();
            let appid = if i % 40 == 7 { REFUSED } else { APP };
            let login = login(appid, i % 20, i);
            tokio::spawn(async move { (login.appid.clone(), store.open_login(&login).await) })
        })
        .collect();
    let mut refused = 0;
    for (i, answer) in crowd.into_iter().enumerate() {
        let (appid, answer) = answer.await.expect("task");
        if appid == REFUSED {
            refused += 1;
            assert!(answer.is_err(), "login {i} was to be refused");
            continue;
        }
        let opened = answer.unwrap_or_else(|e| panic!("login {i} failed with its neighbour: {e}"));
        assert_eq!(
            store.find_session(&opened.session.id).await.expect("query"),
            Some(opened.session.clone()),
            "login {i}'s session is stored"
        );
        let found = store
            .find_login_by_code(&format!("digest-{i}"), 0)
            .await
            .expect("query");
        assert_eq!(
            found.map(|f| f.session.id),
            Some(opened.session.id),
            "and its code"
        );
    }
    assert_eq!(refused, 3);
    // Logins 7, 47 and 87: person 7, whose account exists in APP, new in REFUSED.
    assert_eq!(
        store
            .find_by_identity(REFUSED, &openid("crowd-7"))
            .await
            .expect("query"),
        None,
        "nothing of a refused login stays"
    );
}
