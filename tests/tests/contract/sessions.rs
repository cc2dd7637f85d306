//! Tokens and their sessions: bearer or bare, a 401 for every kind of bad token, a token
//! expiring with its session, and ended sessions purged on schedule.

use std::time::Duration;
use wxlogin_domain::{SessionToken, SystemClock, TokenCodec};
use wxlogin_e2e::{TOKEN_SECRET, TestApp, assert_error};
use wxlogin_token::{JwtCodec, TokenConfig};
use wxlogin_user_store::testing::TestDatabase;

wxlogin_e2e::on_both_databases!(
    ended_sessions_are_purged_on_schedule,
    me_accepts_bearer_and_bare_tokens,
    every_kind_of_bad_token_gets_its_401,
    a_token_expires_exactly_with_its_session,
);

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
            appid: String::new(),
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
            appid: String::new(),
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
        // The revocation feed keeps the ended session's id (random, nothing personal) until its
        // tokens could have expired, and the audit log for its retention: other tables' jobs.
        let stored = wxlogin_user_store::testing::stored_values_outside(
            db.url(),
            &["ended_sessions", "audit_log"],
        )
        .join("\n");
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
