//! The connection pool: every method works with one connection, and a burst of calls waits
//! for permits instead of failing.

use wxlogin_domain::{
    AccessToken, AccessTokenStore, ProfileUpdate, SessionStore, UnionId, UserStore,
};
use wxlogin_user_store::PoolOptions;
use wxlogin_user_store::testing::{TestDatabase, audit_at};

use crate::support::{APP, NOW, new_session, open_with, openid};

contract!(
    ;
    every_method_works_with_a_pool_of_one_connection,
    a_whole_burst_of_calls_waits_for_permits_instead_of_failing,
);

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
            .revoke_session(&session.id, &audit_at(NOW + 3))
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
