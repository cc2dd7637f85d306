//! Several instances on one PostgreSQL: users, sessions and logouts shared, and changes made
//! elsewhere still arriving while cached sessions are served.

use std::time::Duration;
use wxlogin_e2e::{Spawn, TestApp, assert_error, eventually};
use wxlogin_user_store::testing::TestDatabase;

use crate::support::{sample, scrape};

/// Several instances share one PostgreSQL: tokens and logouts hold across them.
#[actix_rt::test]
async fn two_instances_on_one_postgres_share_users_sessions_and_logouts() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    let a = TestApp::spawn(db.url()).await;
    // B trusts what it cached for a minute: only A's NOTIFY can make it see A's changes within
    // the second the contract allows.
    let b = TestApp::spawn_with(Spawn {
        database_url: db.url(),
        env: &[("SESSION_CACHE_MS", "60000")],
        fake: Some(a.shared_fake()),
        apps: 1,
    })
    .await;
    let token = a.token("leo").await;
    let on_b = b.me(&token).await;
    assert_eq!(
        on_b.status, 200,
        "a token from A is honoured by B: {}",
        on_b.text
    );
    assert_eq!(
        b.login("leo.2").await.json["userExist"],
        true,
        "B sees the user A created"
    );
    assert_eq!(a.put_me(&token, r#"{"nickName":"Leo"}"#).await.status, 200);
    assert_eq!(
        eventually(
            || b.me(&token),
            |r| r.json["nickName"] == "Leo",
            std::time::Instant::now(),
            Duration::from_secs(1),
        )
        .await
        .json["nickName"],
        "Leo",
        "B shows A's edit within the bound"
    );
    assert_eq!(a.logout(&token).await.status, 204);
    // B cached the session; A's logout reaches it by NOTIFY.
    let refused = eventually(
        || b.me(&token),
        |r| r.status == 401,
        std::time::Instant::now(),
        Duration::from_secs(1),
    )
    .await;
    assert_error(&refused, 401, "session_revoked");
    a.stop().await;
    b.stop().await;
}

/// On PostgreSQL a session stays cached past `SESSION_CACHE_MS` while the `NOTIFY` listener
/// keeps saying it missed nothing, and what another instance changes still reaches the cache:
/// a profile edit shows, a logout holds within a second.
#[actix_rt::test]
async fn while_the_feed_is_heard_sessions_stay_cached_and_changes_elsewhere_still_arrive() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    let a = TestApp::spawn(db.url()).await;
    let b = a
        .another_instance(
            db.url(),
            &[
                ("SESSION_CACHE_MS", "100"),
                ("METRICS_BIND_ADDR", "127.0.0.1:0"),
            ],
        )
        .await;
    let token = a.token("ulla.1").await;
    assert_eq!(b.me(&token).await.status, 200, "read once, then cached");
    let hits = |text: &str| sample(text, "wxlogin_session_cache_hits_total").unwrap_or(0.0);
    // Requests 300 ms apart, three times the short window: hits only while the feed is heard
    // (it says so every quarter second), which it soon is.
    let mut cached = false;
    for _ in 0..10 {
        actix_rt::time::sleep(Duration::from_millis(300)).await;
        let before = hits(&scrape(&b).await);
        assert_eq!(b.me(&token).await.status, 200);
        if hits(&scrape(&b).await) > before {
            cached = true;
            break;
        }
    }
    assert!(
        cached,
        "past SESSION_CACHE_MS, the session was answered from the cache"
    );

    let edit = a.put_me(&token, r#"{"nickName":"Ulla"}"#).await;
    assert_eq!(edit.status, 200, "{}", edit.text);
    let since = std::time::Instant::now();
    let seen = eventually(
        || b.me(&token),
        |r| r.json["nickName"] == "Ulla",
        since,
        Duration::from_secs(1),
    )
    .await;
    assert_eq!(
        seen.json["nickName"], "Ulla",
        "an edit elsewhere reaches the cache"
    );

    assert_eq!(a.logout(&token).await.status, 204);
    b.assert_revoked_within(&token, std::time::Instant::now(), Duration::from_secs(1))
        .await;
    b.stop().await;
    a.stop().await;
}
