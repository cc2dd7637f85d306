//! Two instances on one PostgreSQL: deletions, logouts and pushes on one end the sessions
//! cached on the other.

use std::time::{Duration, Instant};
use wxlogin_e2e::TestApp;
use wxlogin_fake_wechat::{PushFormat, PushMode};
use wxlogin_user_store::testing::TestDatabase;

use crate::support::{CLUB, SHOP, delete_body, push};

/// PostgreSQL only: one process serves a SQLite file.
#[actix_rt::test]
async fn deletions_logouts_and_pushes_on_one_instance_end_the_sessions_cached_on_another() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    let a = TestApp::spawn_apps(db.url(), 2).await;
    let b = a
        .another_instance(db.url(), &[("SESSION_CACHE_MS", "60000")])
        .await;
    let token = a.token_in(SHOP, "ida.1").await;
    let everywhere = a.token_in(CLUB, "jon.1").await;
    let pushed_out = a.token_in(SHOP, "kim.1").await;
    for cached in [&token, &everywhere, &pushed_out] {
        assert_eq!(b.me(cached).await.status, 200, "cached on B");
    }
    let cancel = push(
        "kim",
        "user_authorization_cancellation",
        PushMode::Safe,
        PushFormat::Xml,
    );
    assert_eq!(a.fake.push(&a.base, &cancel).await.expect("pushed").0, 200);
    let deleted = a
        .request(
            "DELETE",
            "/api/me",
            Some(&format!("Bearer {token}")),
            Some(&delete_body("ida.2")),
        )
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    let out = a
        .request(
            "POST",
            "/api/logout",
            Some(&format!("Bearer {everywhere}")),
            Some(r#"{"everywhere":true}"#),
        )
        .await;
    assert_eq!(out.status, 204);
    let since = Instant::now();
    for token in [&token, &everywhere, &pushed_out] {
        b.assert_revoked_within(token, since, Duration::from_secs(1))
            .await;
    }
    b.stop().await;
    a.stop().await;
}
