//! Logging in: a new user and a returning one, every WeChat error and bad body, concurrent
//! first logins, and the login limit per client (behind a trusted proxy too).

use wxlogin_e2e::{TestApp, assert_error};
use wxlogin_user_store::testing::TestDatabase;

wxlogin_e2e::on_both_databases!(
    behind_a_trusted_proxy_each_forwarded_client_has_its_own_login_limit,
    a_new_user_is_created_and_a_returning_user_found,
    every_wechat_error_gets_its_status_and_kind,
    bad_login_bodies_are_400_and_huge_ones_413,
    concurrent_first_logins_of_one_user_make_one_account,
    login_attempts_are_limited_per_client,
);

async fn a_new_user_is_created_and_a_returning_user_found(db: &TestDatabase) {
    let app = TestApp::spawn(db.url()).await;
    let first = app.login("alice.1").await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert!(first.content_type.starts_with("application/json"));
    let body = &first.json;
    assert_eq!(body["tokenType"], "Bearer");
    assert_eq!(body["expiresIn"], 7200, "the access token's own life");
    assert_eq!(body["refreshExpiresIn"], 604_800, "the session's");
    assert!(
        body["expiresAt"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z') && t.len() == 20),
        "{body}"
    );
    assert_eq!(body["userExist"], false);
    let user = &body["userInfo"];
    for field in ["nickName", "avatarUrl", "gender", "phoneNumber"] {
        assert!(user[field].is_null(), "{field} of a new user");
    }
    assert!(user["createdAt"].is_string() && user["updatedAt"].is_string());
    assert!(
        !first.text.contains(&app.fake.openid_for("alice")),
        "the openid never leaves the server"
    );
    assert!(
        !first.text.contains(&app.fake.session_key_for("alice.1")),
        "nor the session_key"
    );

    let second = app.login("alice.2").await;
    assert_eq!(second.json["userExist"], true);
    assert_eq!(second.json["userInfo"]["id"], user["id"]);
    let other = app.login("bob").await;
    assert_ne!(other.json["userInfo"]["id"], user["id"]);
    app.stop().await;
}

async fn every_wechat_error_gets_its_status_and_kind(db: &TestDatabase) {
    let app = TestApp::spawn(db.url()).await;
    for (code, status, kind) in [
        ("invalid", 400, "invalid_code"),
        ("used", 400, "invalid_code"),
        ("ratelimited", 429, "rate_limited"),
        ("risky", 403, "risky_user"),
        ("busy", 503, "wechat_unavailable"),
        ("garbage", 502, "wechat_error"),
        ("incomplete", 502, "wechat_error"),
        ("errcode_40001", 502, "wechat_error"),
        ("", 400, "invalid_code"),
        ("has space", 400, "invalid_code"),
    ] {
        assert_error(&app.login(code).await, status, kind);
    }
    app.stop().await;
}

async fn bad_login_bodies_are_400_and_huge_ones_413(db: &TestDatabase) {
    let app = TestApp::spawn(db.url()).await;
    for body in [
        "not json",
        "{}",
        r#"{"code":5}"#,
        r#"{"code":null}"#,
        "[]",
        r#"["alice"]"#,
        "",
        r#"{"code":"a""#,
    ] {
        assert_error(
            &app.request("POST", "/api/login", None, Some(body)).await,
            400,
            "invalid_request",
        );
    }
    let huge = format!(r#"{{"code":"{}"}}"#, "a".repeat(70 * 1024));
    assert_error(
        &app.request("POST", "/api/login", None, Some(&huge)).await,
        413,
        "payload_too_large",
    );
    assert_eq!(
        app.fake.code2session_calls(),
        0,
        "none of these reached WeChat"
    );
    app.stop().await;
}

async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_login_limit(db: &TestDatabase) {
    let app = TestApp::spawn_env(
        db.url(),
        &[
            ("LOGIN_RATE_LIMIT", "2"),
            ("TRUSTED_PROXIES", "127.0.0.0/8"),
        ],
    )
    .await;
    let login_from = |client: &'static str, code: String| {
        let app = &app;
        async move {
            app.request_with(
                "POST",
                "/api/login",
                &[("X-Forwarded-For", client)],
                Some(&serde_json::json!({ "code": code }).to_string()),
            )
            .await
        }
    };
    for i in 0..2 {
        let reply = login_from("203.0.113.1", format!("proxied.{i}")).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    assert_error(
        &login_from("203.0.113.1", "proxied.3".into()).await,
        429,
        "rate_limited",
    );
    let other = login_from("203.0.113.2", "proxied.4".into()).await;
    assert_eq!(
        other.status, 200,
        "another client behind the proxy: {}",
        other.text
    );
    // A client cannot pick its own address: the proxy's entry (right-most) is the one read.
    let spoofed = login_from("1.2.3.4, 203.0.113.1", "proxied.5".into()).await;
    assert_error(&spoofed, 429, "rate_limited");
    app.stop().await;
}

async fn concurrent_first_logins_of_one_user_make_one_account(db: &TestDatabase) {
    let app = TestApp::spawn(db.url()).await;
    let replies = futures_util::future::join_all((0..12).map(|i| {
        let code = format!("ivan.{i}");
        let app = &app;
        async move { app.login(&code).await }
    }))
    .await;
    assert!(replies.iter().all(|r| r.status == 200), "{replies:?}");
    assert_eq!(
        replies
            .iter()
            .filter(|r| r.json["userExist"] == false)
            .count(),
        1
    );
    let id = &replies[0].json["userInfo"]["id"];
    assert!(replies.iter().all(|r| &r.json["userInfo"]["id"] == id));
    app.stop().await;
}

async fn login_attempts_are_limited_per_client(db: &TestDatabase) {
    let app = TestApp::spawn_env(db.url(), &[("LOGIN_RATE_LIMIT", "3")]).await;
    for i in 0..3 {
        assert_eq!(app.login(&format!("kim.{i}")).await.status, 200);
    }
    assert_error(&app.login("kim.9").await, 429, "rate_limited");
    assert_eq!(
        app.fake.code2session_calls(),
        3,
        "a limited attempt costs no WeChat call"
    );
    app.stop().await;
}
