//! Several mini programs, one account per person, over HTTP, on SQLite and PostgreSQL.

use std::time::{Duration, Instant};

use wxlogin_e2e::{TOKEN_SECRET, TestApp, assert_error};
use wxlogin_fake_wechat::{DEV_APPID, DEV_APPIDS};
use wxlogin_user_store::testing::TestDatabase;

const SHOP: &str = DEV_APPIDS[0];
const CLUB: &str = DEV_APPIDS[1];

async fn one_person_logging_in_through_two_apps_gets_one_account(db: &TestDatabase) {
    let app = TestApp::spawn_apps(db.url(), 2).await;
    let first = app.login_in(SHOP, "alice.1").await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.json["userExist"], false);
    assert_eq!(first.json["userInfo"]["apps"], serde_json::json!([SHOP]));
    let second = app.login_in(CLUB, "alice.2").await;
    assert_eq!(second.status, 200, "{}", second.text);
    assert_eq!(second.json["userExist"], true, "known by unionid");
    assert_eq!(second.json["userInfo"]["id"], first.json["userInfo"]["id"]);
    assert_eq!(
        second.json["userInfo"]["apps"],
        serde_json::json!([SHOP, CLUB])
    );
    let token = second.json["token"].as_str().expect("token");
    let me = app.me(token).await;
    assert_eq!(me.json["apps"], serde_json::json!([SHOP, CLUB]));
    for secret in [
        app.fake.openid_in(SHOP, "alice"),
        app.fake.openid_in(CLUB, "alice"),
        app.fake.unionid_for("alice"),
    ] {
        assert!(
            !first.text.contains(&secret)
                && !second.text.contains(&secret)
                && !me.text.contains(&secret),
            "openids and the unionid never leave the server"
        );
    }
    let bob = app.login_in(CLUB, "bob").await;
    assert_ne!(bob.json["userInfo"]["id"], first.json["userInfo"]["id"]);
    app.stop().await;
}

async fn the_app_comes_from_the_body_else_the_referer_else_the_only_app(db: &TestDatabase) {
    let app = TestApp::spawn_apps(db.url(), 2).await;
    let login = |code: &str| serde_json::json!({ "code": code }).to_string();
    assert_error(&app.login("carol.1").await, 400, "unknown_app");
    assert_error(
        &app.login_in("wxnotservedhere", "carol.2").await,
        400,
        "unknown_app",
    );
    let referer = format!("https://servicewechat.com/{CLUB}/0/page-frame.html");
    let by_referer = app
        .request_with(
            "POST",
            "/api/login",
            &[("Referer", referer.as_str())],
            Some(&login("carol.3")),
        )
        .await;
    assert_eq!(by_referer.status, 200, "{}", by_referer.text);
    assert_eq!(
        by_referer.json["userInfo"]["apps"],
        serde_json::json!([CLUB])
    );
    let body_wins = app
        .request_with(
            "POST",
            "/api/login",
            &[("Referer", referer.as_str())],
            Some(&serde_json::json!({ "code": "dave", "appid": SHOP }).to_string()),
        )
        .await;
    assert_eq!(
        body_wins.json["userInfo"]["apps"],
        serde_json::json!([SHOP])
    );
    app.stop().await;

    let single = TestApp::spawn(db.url()).await;
    assert_eq!(single.login("erin").await.status, 200, "the only app");
    assert_error(&single.login_in(CLUB, "erin.2").await, 400, "unknown_app");
    single.stop().await;
}

async fn a_later_unionid_merges_the_newer_account_into_the_older(db: &TestDatabase) {
    let app = TestApp::spawn_apps(db.url(), 2).await;
    // CLUB is not bound to the Open Platform yet: frank is two accounts.
    assert!(app.fake.set_open_platform(CLUB, false));
    let older = app.login_in(SHOP, "frank.1").await;
    let newer = app.login_in(CLUB, "frank.2").await;
    assert_eq!(newer.json["userExist"], false);
    assert_ne!(newer.json["userInfo"]["id"], older.json["userInfo"]["id"]);
    let newer_token = newer.json["token"].as_str().expect("token").to_owned();
    let named = app.put_me(&newer_token, r#"{"nickName":"Frank"}"#).await;
    assert_eq!(named.status, 200, "{}", named.text);

    assert!(app.fake.set_open_platform(CLUB, true));
    let merging = app.login_in(CLUB, "frank.3").await;

    assert_eq!(merging.status, 200, "{}", merging.text);
    assert_eq!(merging.json["userExist"], true);
    assert_eq!(merging.json["userInfo"]["id"], older.json["userInfo"]["id"]);
    assert_eq!(
        merging.json["userInfo"]["nickName"], "Frank",
        "empty fields are filled from the merged account"
    );
    assert_eq!(
        merging.json["userInfo"]["apps"],
        serde_json::json!([SHOP, CLUB])
    );
    assert_error(&app.me(&newer_token).await, 401, "session_revoked");
    let older_token = older.json["token"].as_str().expect("token");
    assert_eq!(app.me(older_token).await.json["nickName"], "Frank");
    app.stop().await;
}

async fn user_data_and_phone_numbers_use_the_sessions_own_app(db: &TestDatabase) {
    let app = TestApp::spawn_apps(db.url(), 2).await;
    let token = app.token_in(CLUB, "gina.1").await;
    let data = app.fake.user_data_in(
        CLUB,
        "gina.1",
        &serde_json::json!({ "nickName": "Gina", "gender": 2 }),
    );
    let reply = app
        .post(
            "/api/me/userinfo",
            &token,
            &serde_json::to_value(&data).expect("json"),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json["nickName"], "Gina");
    let phone = app
        .post(
            "/api/me/phone",
            &token,
            &serde_json::json!({ "code": "13800138000" }),
        )
        .await;
    assert_eq!(phone.status, 200, "{}", phone.text);
    assert!(app.fake.current_access_token_of(CLUB).is_some());
    assert_eq!(
        app.fake.current_access_token_of(SHOP),
        None,
        "the other app's quota is not touched"
    );
    // Data of the same person sealed by the other app is not this session's.
    let elsewhere = app
        .fake
        .user_data_in(SHOP, "gina.1", &serde_json::json!({ "nickName": "X" }));
    let refused = app
        .post(
            "/api/me/userinfo",
            &token,
            &serde_json::to_value(&elsewhere).expect("json"),
        )
        .await;
    assert_eq!(refused.status / 100, 4, "{}", refused.text);
    app.stop().await;
}

/// Rows written the way the server before identities wrote them, then the server of now
/// started on them: every user, session and token still works.
async fn the_upgrade_keeps_every_user_session_and_token_working(db: &TestDatabase) {
    use wxlogin_domain::{SessionToken, SystemClock, TokenCodec};
    use wxlogin_user_store::{DieselStore, PoolOptions};
    let old = DieselStore::connect(
        db.url(),
        &PoolOptions::default(),
        wxlogin_user_store::testing::test_sealer(),
    )
    .expect("database");
    old.run_migrations_before("2026-12-02-000001")
        .await
        .expect("the schema before identities");
    wxlogin_user_store::testing::execute_sql(
        db.url(),
        "INSERT INTO users (id, openid, unionid, nick_name, avatar_url, gender, phone_number, created_at, updated_at) \
         VALUES ('u-before', 'o-before', NULL, 'Before', NULL, NULL, NULL, 100, 100); \
         INSERT INTO sessions (id, user_id, session_key, created_at, expires_at, revoked_at) \
         VALUES ('s-before', 'u-before', '', 100, 4000000000, NULL);",
    );
    drop(old);
    let issued_before = wxlogin_token::JwtCodec::new(
        TOKEN_SECRET.as_bytes(),
        wxlogin_token::TokenConfig::default(),
        SystemClock,
    )
    .expect("key")
    .issue(&SessionToken {
        user_id: "u-before".into(),
        session_id: "s-before".into(),
        appid: String::new(),
        expires_at: 4_000_000_000,
    })
    .expect("token");

    let app = TestApp::spawn(db.url()).await;
    let me = app.me(&issued_before).await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.json["id"], "u-before");
    assert_eq!(me.json["nickName"], "Before");
    assert_eq!(me.json["apps"], serde_json::json!([DEV_APPID]));
    app.stop().await;
}

/// PostgreSQL only: one process serves a SQLite file.
#[actix_rt::test]
async fn two_instances_on_one_postgres_share_identities_and_merges() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    let a = TestApp::spawn_apps(db.url(), 2).await;
    let b = a
        .another_instance(db.url(), &[("SESSION_CACHE_MS", "60000")])
        .await;
    // One person, through both apps, on both instances at once: one account.
    let (x, y) =
        futures_util::future::join(a.login_in(SHOP, "hana.1"), b.login_in(CLUB, "hana.2")).await;
    assert_eq!((x.status, y.status), (200, 200), "{} {}", x.text, y.text);
    assert_eq!(x.json["userInfo"]["id"], y.json["userInfo"]["id"]);

    // A merge through A ends the merged account's sessions on B, cached there for a minute.
    assert!(a.fake.set_open_platform(CLUB, false));
    let older = a.login_in(SHOP, "ivan.1").await;
    let newer = b.login_in(CLUB, "ivan.2").await;
    let newer_token = newer.json["token"].as_str().expect("token").to_owned();
    assert_eq!(b.me(&newer_token).await.status, 200, "cached on B");
    assert!(a.fake.set_open_platform(CLUB, true));
    let merged = a.login_in(CLUB, "ivan.3").await;
    assert_eq!(merged.json["userInfo"]["id"], older.json["userInfo"]["id"]);
    b.assert_revoked_within(&newer_token, Instant::now(), Duration::from_secs(1))
        .await;
    b.stop().await;
    a.stop().await;
}

wxlogin_e2e::on_both_databases!(
    one_person_logging_in_through_two_apps_gets_one_account,
    the_app_comes_from_the_body_else_the_referer_else_the_only_app,
    a_later_unionid_merges_the_newer_account_into_the_older,
    user_data_and_phone_numbers_use_the_sessions_own_app,
    the_upgrade_keeps_every_user_session_and_token_working,
);
