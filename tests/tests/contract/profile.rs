//! `PUT /api/me`: partial updates with any Unicode; bad updates refused, changing nothing.

use wxlogin_e2e::{TestApp, assert_error};
use wxlogin_user_store::testing::TestDatabase;

wxlogin_e2e::on_both_databases!(
    the_profile_is_updated_partially_with_any_unicode,
    bad_profile_updates_are_refused_and_change_nothing,
);

async fn the_profile_is_updated_partially_with_any_unicode(db: &TestDatabase) {
    let app = TestApp::spawn(db.url()).await;
    let token = app.token("dave").await;
    let reply = app
        .put_me(
            &token,
            r#"{"nickName":"小明 🐼","avatarUrl":"https://thirdwx.qlogo.cn/a/132"}"#,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json["nickName"], "小明 🐼");
    let reply = app.put_me(&token, r#"{"avatarUrl":null}"#).await;
    assert_eq!(reply.json["nickName"], "小明 🐼", "absent fields stay");
    assert!(reply.json["avatarUrl"].is_null(), "null clears");
    assert_eq!(
        app.me(&token).await.json,
        reply.json,
        "the change is stored"
    );
    let reply = app
        .put_me(&token, &format!(r#"{{"nickName":"{}"}}"#, "龙".repeat(64)))
        .await;
    assert_eq!(
        reply.status, 200,
        "64 characters is the limit, not 64 bytes"
    );
    app.stop().await;
}

async fn bad_profile_updates_are_refused_and_change_nothing(db: &TestDatabase) {
    let app = TestApp::spawn(db.url()).await;
    let token = app.token("erin").await;
    let before = app.me(&token).await.json;
    let too_long = format!(r#"{{"nickName":"{}"}}"#, "a".repeat(65));
    let long_url = format!(r#"{{"avatarUrl":"https://a.b/{}"}}"#, "x".repeat(1020));
    for body in [
        r#"{"phoneNumber":"13800138000"}"#,
        r#"{"id":"someone-else"}"#,
        r#"{"nickName":5}"#,
        r#"{"avatarUrl":"javascript:alert(1)"}"#,
        r#"[]"#,
        "not json",
        too_long.as_str(),
        long_url.as_str(),
    ] {
        assert_error(&app.put_me(&token, body).await, 400, "invalid_request");
    }
    assert_eq!(app.me(&token).await.json, before);
    app.stop().await;
}
