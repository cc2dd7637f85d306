//! The database behind the server: kept across a restart, and lost mid-flight.

use wxlogin_e2e::{TestApp, assert_error};
use wxlogin_user_store::testing::TestDatabase;

wxlogin_e2e::on_both_databases!(a_restart_keeps_users_and_sessions);

async fn a_restart_keeps_users_and_sessions(db: &TestDatabase) {
    let app = TestApp::spawn(db.url()).await;
    let token = app.token("judy").await;
    let profile = app.put_me(&token, r#"{"nickName":"Judy"}"#).await.json;
    app.stop().await;
    let app = TestApp::spawn(db.url()).await;
    assert_eq!(app.me(&token).await.json, profile);
    assert_eq!(app.login("judy.2").await.json["userExist"], true);
    app.stop().await;
}

/// A database that goes away mid-flight gives 503 `unavailable`, and `/readyz` says so, while
/// `/healthz` still answers: the process serves, the store does not.
///
/// A session read within the cache's window may still be served for that moment (docs/api.md
/// says so): the cache is off here, so that every request needs the database and the test
/// never depends on whether the change feed noticed the loss before the request came.
#[actix_rt::test]
async fn a_lost_database_answers_503_unavailable() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    let app = TestApp::spawn_env(db.url(), &[("SESSION_CACHE_MS", "0")]).await;
    let token = app.token("mallory").await;
    db.destroy();
    assert_error(&app.me(&token).await, 503, "unavailable");
    assert_error(&app.login("mallory.2").await, 503, "unavailable");
    assert_error(
        &app.request("GET", "/readyz", None, None).await,
        503,
        "unavailable",
    );
    assert_eq!(app.request("GET", "/healthz", None, None).await.status, 200);
    app.stop().await;
}
