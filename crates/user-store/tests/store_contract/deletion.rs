//! Deleting an account or one of its identities: nothing of the person left behind, in any
//! table or in SQLite's files, even racing logins or a merge.

use std::sync::Arc;

use tokio::sync::Barrier;

use wxlogin_domain::{OpenId, ProfileUpdate, SessionStore, UserStore};
use wxlogin_user_store::DieselStore;
use wxlogin_user_store::testing::{
    TestDatabase, audit_at, every_stored_value, stored_values_outside,
};

use crate::support::{APP, NOW, OTHER_APP, login_through, open, person, raw_session_key};

contract!(
    an_identity_is_deleted_alone_unless_it_is_the_accounts_last,
    a_deletion_racing_logins_of_the_same_person_leaves_no_half_account,
    a_deletion_after_a_merge_deletes_the_account_the_person_is_now;
    a_deleted_account_leaves_nothing_of_the_person_in_any_table,
);

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
        .delete_account(
            &first.user.id,
            APP,
            &OpenId::new(format!("openid-{APP}-x")),
            &audit_at(NOW),
        )
        .await
        .expect("delete")
        .expect("it existed");

    assert!(deleted.account_deleted);
    assert_eq!(deleted.ended_sessions.len(), 2);
    assert_eq!(store.find_user(&first.user.id).await.expect("query"), None);
    // The ended sessions' random ids stay in the revocation feed's table until their tokens
    // could have expired: verifiers elsewhere must refuse those tokens. The audit log keeps
    // the account's and sessions' random ids (what was deleted, when, by whom) for its
    // retention. Nothing else of the person is in either (they hold ids, times, addresses and
    // outcomes only), and nothing at all elsewhere.
    let stored = stored_values_outside(db.url(), &["ended_sessions", "audit_log"]).join("\n");
    for trace in traces {
        assert!(!stored.contains(trace), "{trace} is still stored");
    }
    let feed = every_stored_value(db.url()).join("\n");
    assert!(
        feed.contains("account deleted"),
        "the audit log records the deletion"
    );
    for trace in &traces[1..7] {
        assert!(!feed.contains(trace), "{trace} is still stored");
    }
    for session in [&first.session.id, &second.session.id] {
        assert!(
            feed.contains(session.as_str()),
            "the feed tells {session} ended"
        );
    }
    assert!(
        stored.contains(&kept.user.id),
        "another person's account is untouched"
    );
    assert_eq!(
        store
            .delete_account(
                &first.user.id,
                APP,
                &OpenId::new(format!("openid-{APP}-x")),
                &audit_at(NOW)
            )
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
            .delete_identity(OTHER_APP, &openid_in(OTHER_APP), NOW - 100, &audit_at(NOW))
            .await
            .expect("query"),
        None,
        "an event older than the identity does not touch it"
    );
    let first = store
        .delete_identity(OTHER_APP, &openid_in(OTHER_APP), NOW + 50, &audit_at(NOW))
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
            .delete_identity(OTHER_APP, &openid_in(OTHER_APP), NOW + 50, &audit_at(NOW))
            .await
            .expect("again"),
        None,
        "applied twice: nothing more"
    );
    let last = store
        .delete_identity(APP, &openid_in(APP), NOW + 50, &audit_at(NOW))
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
                .delete_account(&id, APP, &openid, &audit_at(NOW))
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
        .delete_account(&caller.user.id, APP, &openid, &audit_at(NOW))
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
            .delete_account(&caller.user.id, APP, &openid, &audit_at(NOW))
            .await
            .expect("again"),
        None,
        "nothing left to delete"
    );
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
            &audit_at(NOW),
        )
        .await
        .expect("delete")
        .expect("deleted");
    let after = on_disk();
    assert!(!after.contains(marker), "the phone number is still on disk");
    assert!(!after.contains("Erased Nickname Marker"));
}
