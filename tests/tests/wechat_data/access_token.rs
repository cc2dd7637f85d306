//! The access token shared by the user data calls: replaced once when rotated mid-flight,
//! fetched once by two instances on one PostgreSQL.

use serde_json::json;
use wxlogin_e2e::{Spawn, TestApp};
use wxlogin_user_store::testing::TestDatabase;

wxlogin_e2e::on_both_databases!(a_token_rotated_mid_flight_is_replaced_once);

async fn a_token_rotated_mid_flight_is_replaced_once(db: &TestDatabase) {
    let app = TestApp::spawn(db.url()).await;
    let token = app.token("quinn.1").await;
    assert_eq!(
        app.post("/api/me/phone", &token, &json!({ "code": "13800000001" }))
            .await
            .status,
        200
    );
    app.fake.rotate_access_token();

    let reply = app
        .post("/api/me/phone", &token, &json!({ "code": "13800000002" }))
        .await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json["phoneNumber"], "13800000002");
    assert_eq!(app.fake.stable_token_calls(), 2);
    let ready = app.request("GET", "/readyz", None, None).await;
    assert_eq!(ready.json, json!({ "status": "ready" }), "and nothing more");
    app.stop().await;
}

#[actix_rt::test]
async fn two_instances_on_one_postgres_fetch_one_access_token() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    let a = TestApp::spawn(db.url()).await;
    let b = TestApp::spawn_with(Spawn {
        database_url: db.url(),
        env: &[],
        fake: Some(a.shared_fake()),
        apps: 1,
    })
    .await;
    let token = a.token("rita.1").await;

    let calls = (0..6).map(|i| {
        let app = if i % 2 == 0 { &a } else { &b };
        let code = format!("1390000000{i}");
        let token = token.clone();
        async move {
            app.post("/api/me/phone", &token, &json!({ "code": code }))
                .await
        }
    });
    let replies = futures_util::future::join_all(calls).await;

    for reply in &replies {
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    assert_eq!(
        a.fake.stable_token_calls(),
        1,
        "one fetch for both instances"
    );
    a.stop().await;
    b.stop().await;
}
