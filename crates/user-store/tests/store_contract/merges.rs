//! Several mini programs, one account per person: logins of one person through two apps, and
//! the merge of two accounts when a later unionid shows they are one person.

use std::sync::Arc;

use tokio::sync::Barrier;

use wxlogin_domain::{
    AuditKind, AuditLog, AuditQuery, MergedAccount, OpenId, ProfileUpdate, SessionStore, UserStore,
};
use wxlogin_user_store::DieselStore;
use wxlogin_user_store::testing::TestDatabase;

use crate::support::{APP, NOW, OTHER_APP, login_through, open, person};

contract!(
    one_person_logging_in_through_two_apps_is_one_account,
    a_later_unionid_merges_the_newer_account_into_the_older,
    the_older_account_stays_even_when_the_newer_holds_the_unionid,
    concurrent_logins_of_one_person_through_two_apps_create_one_account,
    concurrent_logins_revealing_one_unionid_merge_once,
    a_login_that_would_merge_a_banned_account_is_refused;
);

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
    assert_eq!((again.user.id, again.merged), (older.user.id.clone(), None));
    let merges = store
        .audit_entries(&AuditQuery {
            kind: Some(AuditKind::Merge),
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .expect("audit");
    assert_eq!(merges.len(), 1, "the merge is in the audit log, once");
    assert_eq!(merges[0].user_id.as_deref(), Some(older.user.id.as_str()));
    assert_eq!(merges[0].outcome, format!("merged {}", newer.user.id));
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

async fn a_login_that_would_merge_a_banned_account_is_refused(store: &DieselStore) {
    let older = login_through(store, APP, "s", Some(person("s")), NOW).await;
    let newer = login_through(store, OTHER_APP, "s", None, NOW + 10).await;
    let by = wxlogin_domain::Audit::new(
        AuditKind::Ban,
        wxlogin_domain::Actor::Admin("key-test".into()),
        NOW + 11,
    );
    wxlogin_domain::OperatorStore::ban(store, &newer.user.id, "abuse", &by)
        .await
        .expect("ban")
        .expect("banned");
    let merging = store
        .open_login(&wxlogin_domain::NewLogin {
            appid: OTHER_APP.to_owned(),
            openid: OpenId::new(format!("openid-{OTHER_APP}-s")),
            unionid: Some(person("s")),
            session_key: wxlogin_domain::SessionKey::new("key-s"),
            created_at: NOW + 20,
            expires_at: NOW + 3600,
            login_code: None,
            client_addr: None,
        })
        .await;
    assert!(
        matches!(merging, Err(wxlogin_domain::StoreError::AccountDisabled)),
        "{merging:?}"
    );
    assert!(
        store
            .find_user(&newer.user.id)
            .await
            .expect("query")
            .is_some(),
        "nothing merged"
    );
    assert_eq!(
        store
            .find_user(&older.user.id)
            .await
            .expect("query")
            .and_then(|u| u.disabled_at),
        None,
        "the older account is untouched"
    );
}
