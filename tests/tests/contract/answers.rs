//! What every answer is: it carries a request id, unknown routes and wrong methods answer
//! JSON, and the errors answered are the ones `/openapi.json` describes.

use wxlogin_e2e::{TestApp, assert_error};
use wxlogin_user_store::testing::TestDatabase;

wxlogin_e2e::on_both_databases!(
    every_answer_carries_a_request_id,
    unknown_routes_and_wrong_methods_answer_json,
);

async fn every_answer_carries_a_request_id(db: &TestDatabase) {
    let app = TestApp::spawn(db.url()).await;
    let id_of = |reply: &wxlogin_e2e::Reply| reply.headers.get("x-request-id").cloned();
    let given = app
        .request_with(
            "GET",
            "/healthz",
            &[("X-Request-Id", "abc-123_x.y:z")],
            None,
        )
        .await;
    assert_eq!(
        id_of(&given).as_deref(),
        Some("abc-123_x.y:z"),
        "a sane id is kept"
    );
    let made = app.request("GET", "/api/nothing", None, None).await;
    let made_id = id_of(&made).expect("one is made");
    assert!(
        made_id.len() >= 16 && made_id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{made_id}"
    );
    let long = "x".repeat(200);
    for insane in [long.as_str(), "a b", "<script>"] {
        let reply = app
            .request_with("GET", "/healthz", &[("X-Request-Id", insane)], None)
            .await;
        let id = id_of(&reply).expect("one is made");
        assert_ne!(id, insane, "an insane id is replaced");
    }
    app.stop().await;
}

async fn unknown_routes_and_wrong_methods_answer_json(db: &TestDatabase) {
    let app = TestApp::spawn(db.url()).await;
    assert_error(
        &app.request("GET", "/api/nothing", None, None).await,
        404,
        "not_found",
    );
    assert_error(
        &app.request("GET", "/api/login", None, None).await,
        405,
        "method_not_allowed",
    );
    assert_error(
        &app.request("PATCH", "/api/me", None, None).await,
        405,
        "method_not_allowed",
    );
    let health = app.request("GET", "/healthz", None, None).await;
    assert_eq!(
        (health.status, health.json["status"].as_str()),
        (200, Some("ok"))
    );
    assert_eq!(app.request("GET", "/readyz", None, None).await.status, 200);
    for path in ["/healthz", "/readyz"] {
        let head = app.request("HEAD", path, None, None).await;
        assert_eq!((head.status, head.text.as_str()), (200, ""), "HEAD {path}");
    }
    assert_eq!(
        health.content_type, "application/json; charset=utf-8",
        "JSON answers say their charset"
    );
    let token = app.token("head").await;
    let head = app
        .request("HEAD", "/api/me", Some(&format!("Bearer {token}")), None)
        .await;
    assert_eq!((head.status, head.text.as_str()), (200, ""));
    let error = app.request("GET", "/api/nothing", None, None).await;
    assert_eq!(error.content_type, "application/json; charset=utf-8");
    app.stop().await;
}

/// `/openapi.json` is served, and the errors real requests get are the ones it describes for
/// that route and status.
#[actix_rt::test]
async fn the_api_description_is_served_and_describes_the_errors_answered() {
    let db = TestDatabase::sqlite();
    let app = TestApp::spawn(db.url()).await;
    let served = app.request("GET", "/openapi.json", None, None).await;
    assert_eq!(served.status, 200);
    assert_eq!(served.content_type, "application/json; charset=utf-8");
    assert!(
        served.json["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1"))
    );
    let head = app.request("HEAD", "/openapi.json", None, None).await;
    assert_eq!((head.status, head.text.as_str()), (200, ""));

    let token = app.token("olga.1").await;
    let bearer = format!("Bearer {token}");
    let answered = [
        ("/api/login", "post", app.login("invalid").await),
        ("/api/login", "post", app.login("").await),
        ("/api/login", "post", app.login("risky").await),
        (
            "/api/me",
            "get",
            app.request("GET", "/api/me", None, None).await,
        ),
        (
            "/api/me",
            "put",
            app.request("PUT", "/api/me", Some(&bearer), Some(r#"{"id": 1}"#))
                .await,
        ),
        (
            "/api/me/phone",
            "post",
            app.request(
                "POST",
                "/api/me/phone",
                Some(&bearer),
                Some(r#"{"code": ""}"#),
            )
            .await,
        ),
        (
            "/api/me",
            "delete",
            app.request(
                "DELETE",
                "/api/me",
                Some(&bearer),
                Some(r#"{"code": "zoe.1"}"#),
            )
            .await,
        ),
        (
            "/wechat/push/{appid}",
            "get",
            app.request("GET", "/wechat/push/wx0", None, None).await,
        ),
    ];
    for (path, method, reply) in answered {
        let status = reply.status.to_string();
        let described = &served.json["paths"][path][method]["responses"][&status];
        let examples = &described["content"]["application/json"]["examples"];
        assert!(
            examples.get(reply.error()).is_some(),
            "{method} {path} answered {status} {}, which is not described: {described}",
            reply.error()
        );
    }
    // A body of `null` is no body, as the description of logout allows.
    let ended = app
        .request("POST", "/api/logout", Some(&bearer), Some("null"))
        .await;
    assert_eq!(ended.status, 204, "{}", ended.text);
    app.stop().await;
}
