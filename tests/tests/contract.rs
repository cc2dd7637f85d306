//! The HTTP contract, walked over real HTTP against the real server, on SQLite and PostgreSQL.

use std::time::Duration;

use wxlogin_domain::{SessionToken, SystemClock, TokenCodec};
use wxlogin_e2e::{Spawn, TOKEN_SECRET, TestApp, assert_error, eventually};
use wxlogin_token::{JwtCodec, TokenConfig};
use wxlogin_user_store::testing::TestDatabase;

async fn a_new_user_is_created_and_a_returning_user_found(db: &TestDatabase) {
    let app = TestApp::spawn(db.url()).await;
    let first = app.login("alice.1").await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert!(first.content_type.starts_with("application/json"));
    let body = &first.json;
    assert_eq!(body["tokenType"], "Bearer");
    assert_eq!(body["expiresIn"], 604_800);
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

async fn me_accepts_bearer_and_bare_tokens(db: &TestDatabase) {
    let app = TestApp::spawn(db.url()).await;
    let login = app.login("carol").await;
    let token = login.json["token"].as_str().expect("token");
    let bearer = app
        .request("GET", "/api/me", Some(&format!("Bearer {token}")), None)
        .await;
    let bare = app.request("GET", "/api/me", Some(token), None).await;
    assert_eq!(bearer.status, 200, "{}", bearer.text);
    assert_eq!(bare.status, 200, "{}", bare.text);
    assert_eq!(bearer.json, login.json["userInfo"]);
    assert_eq!(bare.json, bearer.json);
    app.stop().await;
}

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

async fn every_kind_of_bad_token_gets_its_401(db: &TestDatabase) {
    let app = TestApp::spawn(db.url()).await;
    let token = app.token("frank").await;

    assert_error(
        &app.request("GET", "/api/me", None, None).await,
        401,
        "not_logged_in",
    );
    assert_error(
        &app.request("GET", "/api/me", Some("Bearer "), None).await,
        401,
        "not_logged_in",
    );
    assert_error(&app.me("garbage").await, 401, "token_invalid");

    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[1].insert(5, 'x');
    assert_error(&app.me(&parts.join(".")).await, 401, "token_invalid");

    let claims = app.request("GET", "/api/me", Some(&token), None).await.json;
    let other_key = JwtCodec::new(
        b"some other key that is long enough!!",
        TokenConfig::default(),
        SystemClock,
    )
    .expect("key");
    let forged = other_key
        .issue(&SessionToken {
            user_id: claims["id"].as_str().expect("id").into(),
            session_id: "x".into(),
            expires_at: i64::MAX / 2,
        })
        .expect("issue");
    assert_error(&app.me(&forged).await, 401, "token_invalid");

    let ours =
        JwtCodec::new(TOKEN_SECRET.as_bytes(), TokenConfig::default(), SystemClock).expect("key");
    let unknown_session = ours
        .issue(&SessionToken {
            user_id: "u".into(),
            session_id: "no-such-session".into(),
            expires_at: i64::from(u32::MAX),
        })
        .expect("issue");
    assert_error(&app.me(&unknown_session).await, 401, "session_revoked");

    assert_eq!(app.logout(&token).await.status, 204);
    assert_error(&app.me(&token).await, 401, "session_revoked");
    assert_error(&app.logout(&token).await, 401, "session_revoked");
    app.stop().await;
}

async fn a_token_expires_exactly_with_its_session(db: &TestDatabase) {
    let app = TestApp::spawn_env(db.url(), &[("SESSION_TTL_SECS", "1")]).await;
    let login = app.login("grace").await;
    assert_eq!(login.json["expiresIn"], 1);
    let token = login.json["token"].as_str().expect("token");
    assert_eq!(app.me(token).await.status, 200);
    actix_rt::time::sleep(Duration::from_millis(2100)).await;
    assert_error(&app.me(token).await, 401, "token_expired");
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

async fn ended_sessions_are_purged_on_schedule(db: &TestDatabase) {
    use base64::Engine;
    let app = TestApp::spawn_env(db.url(), &[("SESSION_PURGE_SECS", "1")]).await;
    let ended = app.token("purge.1").await;
    let live = app.token("purge.2").await;
    let sid = |token: &str| {
        let payload = token.split('.').nth(1).expect("payload");
        let claims: serde_json::Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .expect("base64"),
        )
        .expect("json");
        claims["sid"].as_str().expect("sid").to_owned()
    };
    let (ended_sid, live_sid) = (sid(&ended), sid(&live));
    assert_eq!(app.logout(&ended).await.status, 204);
    let since = std::time::Instant::now();
    loop {
        let stored = wxlogin_user_store::testing::every_stored_value(db.url()).join("\n");
        assert!(stored.contains(&live_sid), "a live session is never purged");
        if !stored.contains(&ended_sid) {
            break;
        }
        assert!(
            since.elapsed() < Duration::from_secs(10),
            "the ended session is still stored"
        );
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    }
    assert_error(&app.me(&ended).await, 401, "session_revoked");
    assert_eq!(app.me(&live).await.status, 200);
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

async fn a_restart_keeps_users_and_sessions(db: &TestDatabase) {
    let app = TestApp::spawn(db.url()).await;
    let token = app.token("judy").await;
    let profile = app.put_me(&token, r#"{"nickName":"Judy"}"#).await.json;
    app.stop().await;
    let app = TestApp::spawn(db.url()).await;
    assert_eq!(app.me(&token).await.json, profile);
    assert_eq!(app.login("judy.2").await.json["userExist"], true);
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

wxlogin_e2e::on_both_databases!(
    every_answer_carries_a_request_id,
    behind_a_trusted_proxy_each_forwarded_client_has_its_own_login_limit,
    ended_sessions_are_purged_on_schedule,
    a_new_user_is_created_and_a_returning_user_found,
    me_accepts_bearer_and_bare_tokens,
    the_profile_is_updated_partially_with_any_unicode,
    bad_profile_updates_are_refused_and_change_nothing,
    every_kind_of_bad_token_gets_its_401,
    a_token_expires_exactly_with_its_session,
    every_wechat_error_gets_its_status_and_kind,
    bad_login_bodies_are_400_and_huge_ones_413,
    unknown_routes_and_wrong_methods_answer_json,
    concurrent_first_logins_of_one_user_make_one_account,
    a_restart_keeps_users_and_sessions,
    login_attempts_are_limited_per_client,
);

/// Several instances share one PostgreSQL: tokens and logouts hold across them.
#[actix_rt::test]
async fn two_instances_on_one_postgres_share_users_sessions_and_logouts() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    let a = TestApp::spawn(db.url()).await;
    // B trusts what it cached for a minute: only A's NOTIFY can make it see A's changes within
    // the second the contract allows.
    let b = TestApp::spawn_with(Spawn {
        database_url: db.url(),
        env: &[("SESSION_CACHE_MS", "60000")],
        fake: Some(a.shared_fake()),
        apps: 1,
    })
    .await;
    let token = a.token("leo").await;
    let on_b = b.me(&token).await;
    assert_eq!(
        on_b.status, 200,
        "a token from A is honoured by B: {}",
        on_b.text
    );
    assert_eq!(
        b.login("leo.2").await.json["userExist"],
        true,
        "B sees the user A created"
    );
    assert_eq!(a.put_me(&token, r#"{"nickName":"Leo"}"#).await.status, 200);
    assert_eq!(
        eventually(
            || b.me(&token),
            |r| r.json["nickName"] == "Leo",
            std::time::Instant::now(),
            Duration::from_secs(1),
        )
        .await
        .json["nickName"],
        "Leo",
        "B shows A's edit within the bound"
    );
    assert_eq!(a.logout(&token).await.status, 204);
    // B cached the session; A's logout reaches it by NOTIFY.
    let refused = eventually(
        || b.me(&token),
        |r| r.status == 401,
        std::time::Instant::now(),
        Duration::from_secs(1),
    )
    .await;
    assert_error(&refused, 401, "session_revoked");
    a.stop().await;
    b.stop().await;
}

/// A database that goes away mid-flight gives 503 `unavailable`, and `/readyz` says so, while
/// `/healthz` still answers: the process serves, the store does not.
///
/// A session read within the cache's window may still be served for that moment (docs/api.md
/// says so): the cache is off here, so that every request needs the database and the test
/// never depends on whether the change feed noticed the loss before the request came.
#[actix_rt::test]
async fn a_lost_database_answers_503_unavailable() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    let app = TestApp::spawn_env(db.url(), &[("SESSION_CACHE_MS", "0")]).await;
    let token = app.token("mallory").await;
    db.destroy();
    assert_error(&app.me(&token).await, 503, "unavailable");
    assert_error(&app.login("mallory.2").await, 503, "unavailable");
    assert_error(
        &app.request("GET", "/readyz", None, None).await,
        503,
        "unavailable",
    );
    assert_eq!(app.request("GET", "/healthz", None, None).await.status, 200);
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

/// Reads one sample of the text exposition: the value of `name{labels}` (labels as printed).
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

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

async fn scrape(app: &TestApp) -> String {
    let url = format!(
        "{}/metrics",
        app.metrics.as_deref().expect("metrics listen")
    );
    let mut reply = awc::Client::default()
        .get(url)
        .send()
        .await
        .expect("scraped");
    assert_eq!(reply.status().as_u16(), 200);
    String::from_utf8(reply.body().await.expect("body").to_vec()).expect("UTF-8")
}

/// On PostgreSQL a session stays cached past `SESSION_CACHE_MS` while the `NOTIFY` listener
/// keeps saying it missed nothing, and what another instance changes still reaches the cache:
/// a profile edit shows, a logout holds within a second.
#[actix_rt::test]
async fn while_the_feed_is_heard_sessions_stay_cached_and_changes_elsewhere_still_arrive() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    let a = TestApp::spawn(db.url()).await;
    let b = a
        .another_instance(
            db.url(),
            &[
                ("SESSION_CACHE_MS", "100"),
                ("METRICS_BIND_ADDR", "127.0.0.1:0"),
            ],
        )
        .await;
    let token = a.token("ulla.1").await;
    assert_eq!(b.me(&token).await.status, 200, "read once, then cached");
    let hits = |text: &str| sample(text, "wxlogin_session_cache_hits_total").unwrap_or(0.0);
    // Requests 300 ms apart, three times the short window: hits only while the feed is heard
    // (it says so every quarter second), which it soon is.
    let mut cached = false;
    for _ in 0..10 {
        actix_rt::time::sleep(Duration::from_millis(300)).await;
        let before = hits(&scrape(&b).await);
        assert_eq!(b.me(&token).await.status, 200);
        if hits(&scrape(&b).await) > before {
            cached = true;
            break;
        }
    }
    assert!(
        cached,
        "past SESSION_CACHE_MS, the session was answered from the cache"
    );

    let edit = a.put_me(&token, r#"{"nickName":"Ulla"}"#).await;
    assert_eq!(edit.status, 200, "{}", edit.text);
    let since = std::time::Instant::now();
    let seen = eventually(
        || b.me(&token),
        |r| r.json["nickName"] == "Ulla",
        since,
        Duration::from_secs(1),
    )
    .await;
    assert_eq!(
        seen.json["nickName"], "Ulla",
        "an edit elsewhere reaches the cache"
    );

    assert_eq!(a.logout(&token).await.status, 204);
    b.assert_revoked_within(&token, std::time::Instant::now(), Duration::from_secs(1))
        .await;
    b.stop().await;
    a.stop().await;
}
