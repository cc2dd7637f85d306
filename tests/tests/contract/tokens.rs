//! Tokens other services verify: the published keys, refreshing, and the revocation feed, over
//! real HTTP against the real server, checked by the verifier crate a Rust service would use.

use std::time::{Duration, Instant};

use serde_json::json;
use wxlogin_e2e::{Reply, TestApp, assert_error};
use wxlogin_fake_wechat::{FakeWeChat, FakeWeChatConfig};
use wxlogin_user_store::testing::TestDatabase;
use wxlogin_verifier::{Verifier, VerifierConfig, VerifyError};

wxlogin_e2e::on_both_databases!(
    a_token_verifies_offline_from_the_published_keys_alone,
    the_keys_survive_a_restart_and_every_instance_publishes_the_same,
    a_refresh_renews_the_pair_without_wechat_and_the_spent_token_one_step_back_is_answered,
    a_spent_token_presented_late_ends_the_session,
    a_refresh_of_a_logged_out_or_deleted_session_is_refused,
    a_verifier_following_the_feed_refuses_a_logged_out_token_within_a_second,
);

fn refresh_body(token: &str) -> String {
    json!({ "refreshToken": token }).to_string()
}

async fn refresh(app: &TestApp, token: &str) -> Reply {
    app.request(
        "POST",
        "/api/token/refresh",
        None,
        Some(&refresh_body(token)),
    )
    .await
}

fn text(reply: &Reply, field: &str) -> String {
    reply.json[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} in {}", reply.text))
        .to_owned()
}

fn claims_of(token: &str) -> serde_json::Value {
    let payload = token.split('.').nth(1).expect("payload");
    serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .expect("base64url"),
    )
    .expect("json")
}

fn verifier(app: &TestApp) -> Verifier {
    Verifier::new(VerifierConfig::new(&app.base, "wxlogin", "wxlogin-api")).expect("config")
}

async fn a_token_verifies_offline_from_the_published_keys_alone(db: &TestDatabase) {
    let app = TestApp::spawn(db.url()).await;
    let login = app.login("ann.1").await;
    assert_eq!(login.status, 200, "{}", login.text);
    assert_eq!(login.json["expiresIn"], 7200, "the access token's own life");
    assert!(login.json["refreshExpiresIn"].as_i64().expect("n") > 7200);
    let jwks = app
        .request("GET", "/.well-known/jwks.json", None, None)
        .await;
    assert_eq!(jwks.status, 200);
    assert_eq!(
        jwks.headers.get("cache-control").map(String::as_str),
        Some("public, max-age=600")
    );
    let keys = jwks.json["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["alg"], "EdDSA");
    assert!(keys[0].get("d").is_none() && keys[0].get("k").is_none());

    let claims = verifier(&app)
        .verify(&text(&login, "token"))
        .await
        .expect("verified from the JWKS URL alone");
    assert_eq!(
        claims.sub,
        login.json["userInfo"]["id"].as_str().expect("id")
    );
    assert_eq!(claims.appid, wxlogin_fake_wechat::DEV_APPID);
    // Nothing secret in the payload: no openid, unionid or session_key.
    let payload = text(&login, "token");
    let payload = payload.split('.').nth(1).expect("payload");
    let payload = String::from_utf8(
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .expect("base64url"),
    )
    .expect("utf-8");
    assert!(
        !payload.contains("openid") && !payload.contains("union"),
        "{payload}"
    );
    app.stop().await;
}

async fn the_keys_survive_a_restart_and_every_instance_publishes_the_same(db: &TestDatabase) {
    // One WeChat for every instance, outliving the first.
    let fake = FakeWeChat::new(FakeWeChatConfig::dev(1));
    let running = fake
        .clone()
        .start("127.0.0.1:0")
        .await
        .expect("fake starts");
    let instance = || wxlogin_e2e::Spawn {
        database_url: db.url(),
        env: &[],
        fake: Some((fake.clone(), running.base_url())),
        apps: 1,
    };
    let a = TestApp::spawn_with(instance()).await;
    let token = a.token("bea.1").await;
    let keys = a
        .request("GET", "/.well-known/jwks.json", None, None)
        .await
        .json;
    a.stop().await;
    // Restarted on the same database (SQLite takes one process at a time).
    let again = TestApp::spawn_with(instance()).await;
    assert_eq!(again.me(&token).await.status, 200, "no token refused");
    assert_eq!(
        again
            .request("GET", "/.well-known/jwks.json", None, None)
            .await
            .json,
        keys,
        "the same key, read from the store"
    );
    if db.url().starts_with("postgres") {
        let b = TestApp::spawn_with(instance()).await;
        assert_eq!(
            b.request("GET", "/.well-known/jwks.json", None, None)
                .await
                .json,
            keys
        );
        let from_b = b.token("bea.2").await;
        assert_eq!(again.me(&from_b).await.status, 200);
        b.stop().await;
    }
    again.stop().await;
    running.stop().await;
}

async fn a_refresh_renews_the_pair_without_wechat_and_the_spent_token_one_step_back_is_answered(
    db: &TestDatabase,
) {
    let app = TestApp::spawn(db.url()).await;
    let login = app.login("cid.1").await;
    let calls = app.fake.code2session_calls();
    let first = refresh(&app, &text(&login, "refreshToken")).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(app.fake.code2session_calls(), calls, "WeChat is not asked");
    assert_eq!(first.json["tokenType"], "Bearer");
    assert_ne!(text(&first, "refreshToken"), text(&login, "refreshToken"));
    assert_eq!(app.me(&text(&first, "token")).await.status, 200);
    assert_eq!(
        app.me(&text(&login, "token")).await.status,
        200,
        "still live"
    );
    // The answer was lost on the way: the spent token gets the current pair again.
    let again = refresh(&app, &text(&login, "refreshToken")).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(text(&again, "refreshToken"), text(&first, "refreshToken"));
    // The current one moves on.
    let second = refresh(&app, &text(&first, "refreshToken")).await;
    assert_eq!(second.status, 200);
    assert_ne!(text(&second, "refreshToken"), text(&first, "refreshToken"));
    // Garbage and forgeries.
    for bad in ["", "r1.x.0.AAAA", &"r".repeat(300)] {
        assert_error(&refresh(&app, bad).await, 401, "refresh_token_invalid");
    }
    assert_error(
        &app.request("POST", "/api/token/refresh", None, Some("{}"))
            .await,
        400,
        "invalid_request",
    );
    app.stop().await;
}

async fn a_spent_token_presented_late_ends_the_session(db: &TestDatabase) {
    let app = TestApp::spawn_env(db.url(), &[("REFRESH_REUSE_SECS", "0")]).await;
    let login = app.login("dee.1").await;
    let first = refresh(&app, &text(&login, "refreshToken")).await;
    actix_web::rt::time::sleep(Duration::from_millis(1100)).await;
    let second = refresh(&app, &text(&first, "refreshToken")).await;
    assert_eq!(second.status, 200);
    // Two refreshes ago, and past the window: someone else holds it.
    let stolen = refresh(&app, &text(&login, "refreshToken")).await;
    assert_error(&stolen, 401, "refresh_token_reused");
    assert_error(
        &app.me(&text(&second, "token")).await,
        401,
        "session_revoked",
    );
    assert_error(
        &refresh(&app, &text(&second, "refreshToken")).await,
        401,
        "session_revoked",
    );
    app.stop().await;
}

async fn a_refresh_of_a_logged_out_or_deleted_session_is_refused(db: &TestDatabase) {
    let app = TestApp::spawn(db.url()).await;
    let login = app.login("eli.1").await;
    assert_eq!(app.logout(&text(&login, "token")).await.status, 204);
    assert_error(
        &refresh(&app, &text(&login, "refreshToken")).await,
        401,
        "session_revoked",
    );
    let other = app.login("fay.1").await;
    let auth = format!("Bearer {}", text(&other, "token"));
    let deleted = app
        .request(
            "DELETE",
            "/api/me",
            Some(&auth),
            Some(&json!({"code": "fay.2"}).to_string()),
        )
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    assert_error(
        &refresh(&app, &text(&other, "refreshToken")).await,
        401,
        "session_revoked",
    );
    app.stop().await;
}

async fn a_verifier_following_the_feed_refuses_a_logged_out_token_within_a_second(
    db: &TestDatabase,
) {
    let app = TestApp::spawn(db.url()).await;
    let verifier = verifier(&app);
    let following = verifier.follow_revocations().expect("on a tokio runtime");
    following.synced().await;
    let token = app.token("gil.1").await;
    assert!(verifier.verify(&token).await.is_ok());
    assert_eq!(app.logout(&token).await.status, 204);
    let answered = Instant::now();
    loop {
        match verifier.verify(&token).await {
            Err(VerifyError::Revoked) => break,
            Ok(_) if answered.elapsed() < Duration::from_secs(1) => {
                actix_web::rt::time::sleep(Duration::from_millis(20)).await;
            }
            other => panic!("still {other:?} {:?} after the logout", answered.elapsed()),
        }
    }
    // The feed itself: the session is listed with until when its tokens could live.
    let sid = claims_of(&token)["sid"].as_str().expect("sid").to_owned();
    let exp = claims_of(&token)["exp"].as_i64().expect("exp");
    let feed = app
        .request("GET", "/api/token/revocations", None, None)
        .await;
    assert_eq!(feed.status, 200);
    let listed = feed.json["revoked"]
        .as_array()
        .expect("revoked")
        .iter()
        .find(|r| r["sid"] == sid.as_str())
        .unwrap_or_else(|| panic!("{sid} listed in {}", feed.text))
        .clone();
    assert!(
        listed["until"].as_i64().expect("until") >= exp,
        "listed while a token of it could live: {listed}"
    );
    assert_error(
        &app.request("GET", "/api/token/revocations?cursor=c1.-5.0", None, None)
            .await,
        400,
        "invalid_request",
    );
    assert_error(
        &app.request(
            "GET",
            "/api/token/revocations?cursor=c1.5.0&wait=31",
            None,
            None,
        )
        .await,
        400,
        "invalid_request",
    );
    following.stop();
    app.stop().await;
}

/// Two instances given the same refresh token at once: one moves the session on, the other
/// finds it moved and answers the same pair; nothing is refused and no session ends.
#[actix_rt::test]
async fn two_instances_racing_one_refresh_answer_the_same_pair() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    let a = TestApp::spawn(db.url()).await;
    let b = a.another_instance(db.url(), &[]).await;
    for round in 0..5 {
        let login = a.login(&format!("hal.{}", round + 1)).await;
        let spent = text(&login, "refreshToken");
        let (on_a, on_b) =
            futures_util::future::join(refresh(&a, &spent), refresh(&b, &spent)).await;
        assert_eq!(
            (on_a.status, on_b.status),
            (200, 200),
            "{} / {}",
            on_a.text,
            on_b.text
        );
        assert_eq!(text(&on_a, "refreshToken"), text(&on_b, "refreshToken"));
        assert_eq!(a.me(&text(&on_b, "token")).await.status, 200);
        assert_eq!(b.me(&text(&on_a, "token")).await.status, 200);
    }
    b.stop().await;
    a.stop().await;
}
