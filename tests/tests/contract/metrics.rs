//! `/metrics` on its own listener: logins, WeChat calls, the session cache and requests counted.

use wxlogin_e2e::{TestApp, assert_error};
use wxlogin_user_store::testing::TestDatabase;

use crate::support::{sample, scrape};

/// `/metrics` on `METRICS_BIND_ADDR` only: logins by outcome, WeChat calls by API and errcode,
/// the session cache, the pool, HTTP requests by route pattern.
#[actix_rt::test]
async fn metrics_count_logins_wechat_calls_the_cache_and_requests_on_their_own_listener() {
    let db = TestDatabase::sqlite();
    let app = TestApp::spawn_env(db.url(), &[("METRICS_BIND_ADDR", "127.0.0.1:0")]).await;
    let token = app.token("olga.1").await;
    assert_error(&app.login("invalid").await, 400, "invalid_code");
    assert_error(&app.login("invalid").await, 400, "invalid_code");
    for _ in 0..3 {
        assert_eq!(app.me(&token).await.status, 200);
    }
    let _ = app.request("GET", "/wechat/push/wx1?x=1", None, None).await;

    let text = scrape(&app).await;

    let appid = app.fake.appids()[0].clone();
    assert_eq!(
        sample(&text, r#"wxlogin_logins_total{outcome="ok"}"#),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"wxlogin_logins_total{outcome="invalid_code"}"#),
        Some(2.0)
    );
    let calls = |errcode: &str| {
        sample(
            &text,
            &format!(
                r#"wxlogin_wechat_calls_total{{appid="{appid}",api="jscode2session",errcode="{errcode}"}}"#
            ),
        )
    };
    assert_eq!(calls("0"), Some(1.0));
    assert_eq!(calls("40029"), Some(2.0));
    assert_eq!(
        sample(
            &text,
            &format!(
                r#"wxlogin_wechat_call_duration_seconds_count{{appid="{appid}",api="jscode2session"}}"#
            )
        ),
        Some(3.0)
    );
    let hits = sample(&text, "wxlogin_session_cache_hits_total").expect("hits");
    let misses = sample(&text, "wxlogin_session_cache_misses_total").expect("misses");
    assert_eq!(hits + misses, 3.0, "one lookup per /api/me");
    assert!(sample(&text, "wxlogin_db_pool_max").is_some_and(|n| n >= 1.0));
    assert!(sample(&text, "wxlogin_db_pool_connections").is_some());
    assert_eq!(
        sample(
            &text,
            r#"wxlogin_http_requests_total{route="/api/me",method="GET",status="200"}"#
        ),
        Some(3.0)
    );
    assert!(
        text.contains(r#"route="/wechat/push/{appid}""#),
        "routes are labelled by pattern, never by path"
    );
    assert!(!text.contains("wx1?x=1") && !text.contains(&token));

    assert_error(
        &app.request("GET", "/metrics", None, None).await,
        404,
        "not_found",
    );
    app.stop().await;
}

/// Refreshes by outcome (reuse detections among them) and the signing keys made.
#[actix_rt::test]
async fn metrics_count_refreshes_by_outcome_and_the_keys_made() {
    let db = TestDatabase::sqlite();
    let app = TestApp::spawn_env(
        db.url(),
        &[
            ("METRICS_BIND_ADDR", "127.0.0.1:0"),
            ("REFRESH_REUSE_SECS", "0"),
        ],
    )
    .await;
    let login = app.login("rita.1").await;
    let first_refresh = login.json["refreshToken"]
        .as_str()
        .expect("refresh")
        .to_owned();
    let refresh = |token: String| {
        let body = serde_json::json!({ "refreshToken": token }).to_string();
        let app = &app;
        async move {
            app.request("POST", "/api/token/refresh", None, Some(&body))
                .await
        }
    };
    let second = refresh(first_refresh.clone()).await;
    let third = refresh(second.json["refreshToken"].as_str().expect("r").to_owned()).await;
    assert_eq!(third.status, 200);
    assert_error(&refresh(first_refresh).await, 401, "refresh_token_reused");
    assert_error(
        &refresh("forged".into()).await,
        401,
        "refresh_token_invalid",
    );

    let text = scrape(&app).await;
    let refreshes = |outcome: &str| {
        sample(
            &text,
            &format!(r#"wxlogin_token_refreshes_total{{outcome="{outcome}"}}"#),
        )
    };
    assert_eq!(refreshes("ok"), Some(2.0), "{text}");
    assert_eq!(refreshes("refresh_token_reused"), Some(1.0));
    assert_eq!(refreshes("refresh_token_invalid"), Some(1.0));
    assert_eq!(sample(&text, "wxlogin_token_keys_made_total"), Some(1.0));
    app.stop().await;
}
