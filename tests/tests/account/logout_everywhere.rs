//! `POST /api/logout` with `{"everywhere":true}`: every session in every app ends.

use wxlogin_e2e::{TestApp, assert_error};
use wxlogin_user_store::testing::TestDatabase;

use crate::support::{CLUB, SHOP};

wxlogin_e2e::on_both_databases!(logout_everywhere_ends_every_session_in_every_app);

async fn logout_everywhere_ends_every_session_in_every_app(db: &TestDatabase) {
    let app = TestApp::spawn_apps(db.url(), 2).await;
    let shop = app.token_in(SHOP, "amy.1").await;
    let club = app.token_in(CLUB, "amy.2").await;
    let other_device = app.token_in(SHOP, "amy.3").await;
    let bystander = app.token_in(SHOP, "ben").await;
    let reply = app
        .request(
            "POST",
            "/api/logout",
            Some(&format!("Bearer {shop}")),
            Some(r#"{"everywhere":true}"#),
        )
        .await;
    assert_eq!(reply.status, 204, "{}", reply.text);
    for token in [&shop, &club, &other_device] {
        assert_error(&app.me(token).await, 401, "session_revoked");
    }
    assert_eq!(app.me(&bystander).await.status, 200);
    // A plain logout, and a refused body.
    let again = app.token_in(SHOP, "amy.4").await;
    let bad = app
        .request(
            "POST",
            "/api/logout",
            Some(&format!("Bearer {again}")),
            Some(r#"{"everywhere":"yes"}"#),
        )
        .await;
    assert_error(&bad, 400, "invalid_request");
    assert_eq!(
        app.me(&again).await.status,
        200,
        "a refused logout ends nothing"
    );
    assert_eq!(app.logout(&again).await.status, 204);
    assert_error(&app.me(&again).await, 401, "session_revoked");
    app.stop().await;
}
