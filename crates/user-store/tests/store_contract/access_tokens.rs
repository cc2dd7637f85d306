//! The stored WeChat access token: one lease at a time to refresh it, and expiring it as a
//! compare-and-set.

use wxlogin_domain::{AccessToken, AccessTokenStore};
use wxlogin_user_store::DieselStore;
use wxlogin_user_store::testing::TestDatabase;

use crate::support::{NOW, open};

contract!(
    one_lease_at_a_time_for_the_access_token_refresh,
    expiring_an_access_token_is_a_compare_and_set;
);

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
