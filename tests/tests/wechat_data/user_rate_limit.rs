//! USER_RATE_LIMIT: user data calls past the account's limit are refused without asking WeChat.

use serde_json::json;
use wxlogin_e2e::{TestApp, assert_error};
use wxlogin_user_store::testing::TestDatabase;

use crate::support::{body, profile};

wxlogin_e2e::on_both_databases!(
    user_data_calls_past_the_accounts_limit_are_refused_without_asking_wechat
);

async fn user_data_calls_past_the_accounts_limit_are_refused_without_asking_wechat(
    db: &TestDatabase,
) {
    let app = TestApp::spawn_env(db.url(), &[("USER_RATE_LIMIT", "2")]).await;
    let token = app.token("limited.1").await;
    let other = app.token("unlimited.1").await;
    for i in 0..2 {
        let reply = app
            .post(
                "/api/me/phone",
                &token,
                &json!({ "code": format!("1380013800{i}") }),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    let calls = app.fake.phone_number_calls();
    let refused = app
        .post("/api/me/phone", &token, &json!({ "code": "13800138009" }))
        .await;
    assert_error(&refused, 429, "rate_limited");
    let data = app.fake.user_data("limited.1", &profile());
    assert_error(
        &app.post("/api/me/userinfo", &token, &body(&data)).await,
        429,
        "rate_limited",
    );
    assert_eq!(app.fake.phone_number_calls(), calls, "WeChat was not asked");
    let reply = app
        .post("/api/me/phone", &other, &json!({ "code": "13900139000" }))
        .await;
    assert_eq!(
        reply.status, 200,
        "another account has its own limit: {}",
        reply.text
    );
    app.stop().await;
}
