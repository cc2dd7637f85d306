//! `DELETE /api/me`: a fresh code of the same person is needed, and each attempt counts
//! against the user rate limit.

use wxlogin_e2e::{TestApp, assert_error};
use wxlogin_user_store::testing::TestDatabase;

use crate::support::{CLUB, SHOP, delete_body};

wxlogin_e2e::on_both_databases!(
    deleting_the_account_needs_a_fresh_code_of_the_same_person,
    deletion_attempts_count_against_the_user_rate_limit,
);

async fn deleting_the_account_needs_a_fresh_code_of_the_same_person(db: &TestDatabase) {
    let app = TestApp::spawn_apps(db.url(), 2).await;
    let login = app.login_in(SHOP, "cara.1").await;
    let token = login.json["token"].as_str().expect("token").to_owned();
    let other_app = app.token_in(CLUB, "cara.2").await;
    let auth = format!("Bearer {token}");

    for (code, why) in [
        ("dan.1", "another person's code"),
        ("invalid", "a code WeChat rejects"),
        ("cara.1", "the login's own, already used code"),
    ] {
        let refused = app
            .request("DELETE", "/api/me", Some(&auth), Some(&delete_body(code)))
            .await;
        assert_error(&refused, 403, "reauth_failed");
        assert_eq!(app.me(&token).await.status, 200, "{why}: nothing deleted");
    }
    // Checked as a login's code is, before WeChat is asked.
    for malformed in ["", "two words", &"x".repeat(200)] {
        let refused = app
            .request(
                "DELETE",
                "/api/me",
                Some(&auth),
                Some(&delete_body(malformed)),
            )
            .await;
        assert_error(&refused, 400, "invalid_code");
    }
    assert_eq!(app.me(&token).await.status, 200, "nothing deleted");
    assert_error(
        &app.request("DELETE", "/api/me", Some(&auth), Some("{}"))
            .await,
        400,
        "invalid_request",
    );

    let deleted = app
        .request(
            "DELETE",
            "/api/me",
            Some(&auth),
            Some(&delete_body("cara.3")),
        )
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    assert_error(&app.me(&token).await, 401, "session_revoked");
    assert_error(&app.me(&other_app).await, 401, "session_revoked");
    let back = app.login_in(SHOP, "cara.4").await;
    assert_eq!(back.json["userExist"], false, "a new account");
    assert_ne!(back.json["userInfo"]["id"], login.json["userInfo"]["id"]);
    app.stop().await;
}

/// Each deletion attempt costs a WeChat call on the app's quota: one token cannot spend it at
/// will.
async fn deletion_attempts_count_against_the_user_rate_limit(db: &TestDatabase) {
    let app = TestApp::spawn_env(db.url(), &[("USER_RATE_LIMIT", "2")]).await;
    let token = app.token("lea.1").await;
    let auth = format!("Bearer {token}");
    for guess in ["guess-1", "guess-2"] {
        let refused = app
            .request("DELETE", "/api/me", Some(&auth), Some(&delete_body(guess)))
            .await;
        assert_error(&refused, 403, "reauth_failed");
    }
    let limited = app
        .request(
            "DELETE",
            "/api/me",
            Some(&auth),
            Some(&delete_body("lea.2")),
        )
        .await;
    assert_error(&limited, 429, "rate_limited");
    assert_eq!(app.me(&token).await.status, 200, "nothing deleted");
    app.stop().await;
}
