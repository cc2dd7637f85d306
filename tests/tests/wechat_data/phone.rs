//! `POST /api/me/phone`: phone numbers bound from getPhoneNumber codes.

use serde_json::json;
use wxlogin_e2e::{TestApp, assert_error};
use wxlogin_user_store::testing::TestDatabase;

wxlogin_e2e::on_both_databases!(phone_numbers_are_bound_from_getphonenumber_codes);

async fn phone_numbers_are_bound_from_getphonenumber_codes(db: &TestDatabase) {
    let app = TestApp::spawn(db.url()).await;
    let token = app.token("pat.1").await;

    let reply = app
        .post("/api/me/phone", &token, &json!({ "code": "13800138000" }))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json["phoneNumber"], "13800138000");
    assert_eq!(app.me(&token).await.json["phoneNumber"], "13800138000");

    // Outside mainland China WeChat sends countryCode as a number.
    let abroad = app
        .post("/api/me/phone", &token, &json!({ "code": "+852.61234567" }))
        .await;
    assert_eq!(abroad.status, 200, "{}", abroad.text);
    assert_eq!(abroad.json["phoneNumber"], "+85261234567");

    assert_error(
        &app.post("/api/me/phone", &token, &json!({ "code": "13800138000" }))
            .await,
        400,
        "invalid_code",
    );
    assert_error(
        &app.post("/api/me/phone", &token, &json!({ "code": "quota" }))
            .await,
        503,
        "wechat_unavailable",
    );
    assert_error(
        &app.post("/api/me/phone", &token, &json!({ "code": "" }))
            .await,
        400,
        "invalid_code",
    );
    assert_error(
        &app.post("/api/me/phone", &token, &json!({})).await,
        400,
        "invalid_request",
    );
    assert_error(
        &app.request("POST", "/api/me/phone", None, Some(r#"{"code":"1"}"#))
            .await,
        401,
        "not_logged_in",
    );
    assert_eq!(
        app.me(&token).await.json["phoneNumber"],
        "+85261234567",
        "failed calls change nothing"
    );
    assert_eq!(
        app.fake.stable_token_calls(),
        1,
        "one access token served every call"
    );
    app.stop().await;
}
