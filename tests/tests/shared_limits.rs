//! Limits shared by the instances of a deployment on one PostgreSQL: `LOGIN_RATE_LIMIT` and
//! `USER_RATE_LIMIT` allow their count once, not once per instance, and a WeChat quota one
//! instance saw spent stops every instance's calls.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;
use wxlogin_e2e::{TestApp, assert_error};
use wxlogin_user_store::testing::TestDatabase;

/// Two instances of one deployment on `db`, both with `env`.
async fn two_instances(db: &TestDatabase, env: &[(&str, &str)]) -> (TestApp, TestApp) {
    let a = TestApp::spawn_env(db.url(), env).await;
    let b = a.another_instance(db.url(), env).await;
    (a, b)
}

#[actix_rt::test]
async fn login_rate_limit_holds_for_the_deployment_whichever_instance_a_login_reaches() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    let (a, b) = two_instances(&db, &[("LOGIN_RATE_LIMIT", "5")]).await;
    for i in 0..5 {
        let on = if i % 2 == 0 { &a } else { &b };
        let reply = on.login(&format!("client.{i}")).await;
        assert_eq!(reply.status, 200, "login {i}: {}", reply.text);
    }
    let calls = a.fake.code2session_calls();
    assert_error(&a.login("client.5").await, 429, "rate_limited");
    assert_error(&b.login("client.6").await, 429, "rate_limited");
    assert_eq!(a.fake.code2session_calls(), calls, "WeChat was not asked");
    a.stop().await;
    b.stop().await;
}

#[actix_rt::test]
async fn user_rate_limit_holds_for_the_deployment_whichever_instance_a_call_reaches() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    let (a, b) = two_instances(&db, &[("USER_RATE_LIMIT", "2")]).await;
    let token = a.token("limited.1").await;
    for (i, on) in [&a, &b].into_iter().enumerate() {
        let reply = on
            .post(
                "/api/me/phone",
                &token,
                &json!({ "code": format!("1380013800{i}") }),
            )
            .await;
        assert_eq!(reply.status, 200, "call {i}: {}", reply.text);
    }
    let calls = a.fake.phone_number_calls();
    for on in [&a, &b] {
        assert_error(
            &on.post("/api/me/phone", &token, &json!({ "code": "13800138009" }))
                .await,
            429,
            "rate_limited",
        );
    }
    assert_eq!(a.fake.phone_number_calls(), calls, "WeChat was not asked");
    a.stop().await;
    b.stop().await;
}

#[actix_rt::test]
async fn a_phone_quota_spent_on_one_instance_stops_the_others_asking_wechat() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    let (a, b) = two_instances(&db, &[]).await;
    let token = a.token("phone.1").await;
    let spent = a
        .post(
            "/api/me/phone",
            &token,
            &json!({ "code": "errcode_1400001" }),
        )
        .await;
    assert!(spent.status >= 500, "{}", spent.text);
    let calls = a.fake.phone_number_calls();
    let refused = b
        .post("/api/me/phone", &token, &json!({ "code": "13800138000" }))
        .await;
    assert_eq!(refused.status, spent.status, "{}", refused.text);
    assert_eq!(
        a.fake.phone_number_calls(),
        calls,
        "B did not ask WeChat: the quota is spent until midnight in Beijing"
    );
    a.stop().await;
    b.stop().await;
}

#[actix_rt::test]
async fn a_content_check_quota_spent_on_one_instance_stops_the_others_asking_wechat() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    let (a, b) = two_instances(&db, &[("CONTENT_CHECK", "on")]).await;
    let token = a.token("nick.1").await;
    // The pause lasts until the next clock minute: not started in a minute's last seconds.
    let into_minute = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
        % 60;
    if into_minute > 50 {
        actix_web::rt::time::sleep(Duration::from_secs(61 - into_minute)).await;
    }
    // The fake answers 45009 to a text containing "quota"; checks fail open by default.
    let spent = a.put_me(&token, r#"{"nickName":"over quota"}"#).await;
    assert_eq!(spent.status, 200, "{}", spent.text);
    let asked = a.fake.msg_sec_check_calls().len();
    let unchecked = b.put_me(&token, r#"{"nickName":"Leo"}"#).await;
    assert_eq!(unchecked.status, 200, "{}", unchecked.text);
    assert_eq!(
        a.fake.msg_sec_check_calls().len(),
        asked,
        "B did not ask WeChat this minute"
    );
    a.stop().await;
    b.stop().await;
}
