//! Logout everywhere, account deletion and WeChat's authorization events over HTTP, on SQLite
//! and PostgreSQL.

use std::time::{Duration, Instant};

use wxlogin_e2e::{Reply, TestApp, assert_error};
use wxlogin_fake_wechat::{
    DEV_APPIDS, DEV_PUSH_AES_KEY, FakePush, PushFormat, PushMode, PushRequest,
};
use wxlogin_user_store::testing::TestDatabase;

const SHOP: &str = DEV_APPIDS[0];
const CLUB: &str = DEV_APPIDS[1];

fn delete_body(code: &str) -> String {
    serde_json::json!({ "code": code }).to_string()
}

async fn logout_everywhere_ends_every_session_in_every_app(db: &TestDatabase) {
    let app = TestApp::spawn_apps(db.url(), 2).await;
    let shop = app.token_in(SHOP, "amy.1").await;
    let club = app.token_in(CLUB, "amy.2").await;
    let other_device = app.token_in(SHOP, "amy.3").await;
    let bystander = app.token_in(SHOP, "ben").await;
    let reply = app
        .request(
            "POST",
            "/api/logout",
            Some(&format!("Bearer {shop}")),
            Some(r#"{"everywhere":true}"#),
        )
        .await;
    assert_eq!(reply.status, 204, "{}", reply.text);
    for token in [&shop, &club, &other_device] {
        assert_error(&app.me(token).await, 401, "session_revoked");
    }
    assert_eq!(app.me(&bystander).await.status, 200);
    // A plain logout, and a refused body.
    let again = app.token_in(SHOP, "amy.4").await;
    let bad = app
        .request(
            "POST",
            "/api/logout",
            Some(&format!("Bearer {again}")),
            Some(r#"{"everywhere":"yes"}"#),
        )
        .await;
    assert_error(&bad, 400, "invalid_request");
    assert_eq!(
        app.me(&again).await.status,
        200,
        "a refused logout ends nothing"
    );
    assert_eq!(app.logout(&again).await.status, 204);
    assert_error(&app.me(&again).await, 401, "session_revoked");
    app.stop().await;
}

async fn deleting_the_account_needs_a_fresh_code_of_the_same_person(db: &TestDatabase) {
    let app = TestApp::spawn_apps(db.url(), 2).await;
    let login = app.login_in(SHOP, "cara.1").await;
    let token = login.json["token"].as_str().expect("token").to_owned();
    let other_app = app.token_in(CLUB, "cara.2").await;
    let auth = format!("Bearer {token}");

    for (code, why) in [
        ("dan.1", "another person's code"),
        ("invalid", "a code WeChat rejects"),
        ("cara.1", "the login's own, already used code"),
    ] {
        let refused = app
            .request("DELETE", "/api/me", Some(&auth), Some(&delete_body(code)))
            .await;
        assert_error(&refused, 403, "reauth_failed");
        assert_eq!(app.me(&token).await.status, 200, "{why}: nothing deleted");
    }
    // Checked as a login's code is, before WeChat is asked.
    for malformed in ["", "two words", &"x".repeat(200)] {
        let refused = app
            .request(
                "DELETE",
                "/api/me",
                Some(&auth),
                Some(&delete_body(malformed)),
            )
            .await;
        assert_error(&refused, 400, "invalid_code");
    }
    assert_eq!(app.me(&token).await.status, 200, "nothing deleted");
    assert_error(
        &app.request("DELETE", "/api/me", Some(&auth), Some("{}"))
            .await,
        400,
        "invalid_request",
    );

    let deleted = app
        .request(
            "DELETE",
            "/api/me",
            Some(&auth),
            Some(&delete_body("cara.3")),
        )
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    assert_error(&app.me(&token).await, 401, "session_revoked");
    assert_error(&app.me(&other_app).await, 401, "session_revoked");
    let back = app.login_in(SHOP, "cara.4").await;
    assert_eq!(back.json["userExist"], false, "a new account");
    assert_ne!(back.json["userInfo"]["id"], login.json["userInfo"]["id"]);
    app.stop().await;
}

fn push(user: &str, event: &str, mode: PushMode, format: PushFormat) -> FakePush {
    FakePush {
        appid: Some(SHOP.into()),
        user: user.into(),
        event: event.into(),
        revoke_info: None,
        create_time: None,
        mode,
        format,
    }
}

/// Each deletion attempt costs a WeChat call on the app's quota: one token cannot spend it at
/// will.
async fn deletion_attempts_count_against_the_user_rate_limit(db: &TestDatabase) {
    let app = TestApp::spawn_env(db.url(), &[("USER_RATE_LIMIT", "2")]).await;
    let token = app.token("lea.1").await;
    let auth = format!("Bearer {token}");
    for guess in ["guess-1", "guess-2"] {
        let refused = app
            .request("DELETE", "/api/me", Some(&auth), Some(&delete_body(guess)))
            .await;
        assert_error(&refused, 403, "reauth_failed");
    }
    let limited = app
        .request(
            "DELETE",
            "/api/me",
            Some(&auth),
            Some(&delete_body("lea.2")),
        )
        .await;
    assert_error(&limited, 429, "rate_limited");
    assert_eq!(app.me(&token).await.status, 200, "nothing deleted");
    app.stop().await;
}

/// A server whose one app (SHOP) has a push Token but no EncodingAESKey: plain mode only.
async fn spawn_plain_mode(db: &TestDatabase) -> TestApp {
    TestApp::spawn_env(db.url(), &[("WECHAT_PUSH_AES_KEY", "")]).await
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// Sends a push request as it is (the same one may be sent twice, as WeChat or a replayer does).
async fn send_push(app: &TestApp, appid: &str, request: &PushRequest) -> Reply {
    app.request_with(
        "POST",
        &format!("/wechat/push/{appid}?{}", request.query),
        &[("Content-Type", request.content_type)],
        Some(&request.body),
    )
    .await
}

/// `push` signed with another Token, and `push` sent 10 minutes ago, are refused.
async fn assert_foreign_and_stale_pushes_refused(
    app: &TestApp,
    push: &FakePush,
    other_token: &wxlogin_wechat_client::PushSettings,
    now: u64,
) {
    let settings = app.fake.push_settings();
    for request in [
        app.fake.push_request(push, other_token, now),
        app.fake.push_request(push, &settings, now - 600),
    ] {
        assert_error(&send_push(app, SHOP, &request).await, 403, "push_rejected");
    }
}

async fn a_closed_authorization_deletes_the_person_in_every_mode_and_format(db: &TestDatabase) {
    // Safe mode on apps with an EncodingAESKey; plain mode on an app without one (an app with
    // a key takes no plain push: see the next test).
    let safe = TestApp::spawn_apps(db.url(), 2).await;
    let plain = spawn_plain_mode(db).await;
    for (i, (app, mode, format)) in [
        (&plain, PushMode::Plain, PushFormat::Xml),
        (&plain, PushMode::Plain, PushFormat::Json),
        (&safe, PushMode::Safe, PushFormat::Xml),
        (&safe, PushMode::Safe, PushFormat::Json),
    ]
    .into_iter()
    .enumerate()
    {
        let user = format!("eve{i}");
        let token = app.token_in(SHOP, &format!("{user}.1")).await;
        let event = push(&user, "user_authorization_cancellation", mode, format);
        let (status, body) = app.fake.push(&app.base, &event).await.expect("pushed");
        assert_eq!(
            (status, body.as_str()),
            (200, "success"),
            "{mode:?} {format:?}"
        );
        assert_error(&app.me(&token).await, 401, "session_revoked");
        // WeChat retries: the same event again changes nothing more and is still a success.
        let (status, body) = app.fake.push(&app.base, &event).await.expect("pushed");
        assert_eq!((status, body.as_str()), (200, "success"));
        let back = app.login_in(SHOP, &format!("{user}.2")).await;
        assert_eq!(back.json["userExist"], false, "{mode:?} {format:?}");
    }
    plain.stop().await;
    safe.stop().await;
}

/// The plain signature covers the Token, timestamp and nonce that sit in every push URL, not
/// the body: on an app set up for safe mode, a plain push (however well signed) is refused, so
/// whoever saw one push URL cannot delete anybody.
async fn a_plain_push_to_an_app_with_an_aes_key_is_refused_and_changes_nothing(db: &TestDatabase) {
    let app = TestApp::spawn_apps(db.url(), 2).await;
    let token = app.token_in(SHOP, "ned.1").await;
    for format in [PushFormat::Xml, PushFormat::Json] {
        let forged = push(
            "ned",
            "user_authorization_cancellation",
            PushMode::Plain,
            format,
        );
        let request = app
            .fake
            .push_request(&forged, &app.fake.push_settings(), unix_now());
        assert_error(&send_push(&app, SHOP, &request).await, 403, "push_rejected");
    }
    assert_eq!(app.me(&token).await.status, 200, "the account is there");
    app.stop().await;
}

/// WeChat retries a push it got no answer for, and anyone who saw one may send it again: the
/// same push is answered `success` and applied once. And an event only changes data older
/// than it: a late `user_info_modified` never clears a name set after it.
async fn a_push_sent_again_or_late_never_undoes_a_later_change(db: &TestDatabase) {
    let app = TestApp::spawn_apps(db.url(), 2).await;
    let token = app.token_in(SHOP, "ora.1").await;
    let set = app.put_me(&token, r#"{"nickName":"Old"}"#).await;
    assert_eq!(set.status, 200, "{}", set.text);

    // An event far ahead of every change here, so that only the memory of pushes applied
    // keeps its copy from being applied again.
    let mut modified = push(
        "ora",
        "user_info_modified",
        PushMode::Safe,
        PushFormat::Json,
    );
    modified.create_time = Some(unix_now() as i64 + 120);
    let request = app
        .fake
        .push_request(&modified, &app.fake.push_settings(), unix_now());
    let first = send_push(&app, SHOP, &request).await;
    assert_eq!((first.status, first.text.as_str()), (200, "success"));
    assert!(app.me(&token).await.json["nickName"].is_null(), "applied");

    let set = app.put_me(&token, r#"{"nickName":"New"}"#).await;
    assert_eq!(set.status, 200, "{}", set.text);
    let again = send_push(&app, SHOP, &request).await;
    assert_eq!((again.status, again.text.as_str()), (200, "success"));
    assert_eq!(
        app.me(&token).await.json["nickName"],
        "New",
        "the copy was not applied"
    );
    // The signature is checked in any case: spelt in capitals it is still the same push.
    let mut shouted = request.clone();
    shouted.query = shouted
        .query
        .split('&')
        .map(|pair| match pair.strip_prefix("msg_signature=") {
            Some(signature) => format!("msg_signature={}", signature.to_ascii_uppercase()),
            None => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&");
    assert_ne!(shouted.query, request.query);
    let again = send_push(&app, SHOP, &shouted).await;
    assert_eq!((again.status, again.text.as_str()), (200, "success"));
    assert_eq!(
        app.me(&token).await.json["nickName"],
        "New",
        "the copy in capitals was not applied"
    );

    // An event that says it was made long after it was sent is no event of WeChat's.
    let mut future = push(
        "ora",
        "user_info_modified",
        PushMode::Safe,
        PushFormat::Json,
    );
    future.create_time = Some(unix_now() as i64 + 3600);
    let (status, body) = app.fake.push(&app.base, &future).await.expect("pushed");
    assert_eq!((status, body.as_str()), (200, "success"));
    assert_eq!(app.me(&token).await.json["nickName"], "New");

    // Another push (another nonce, so no copy) of an event made before "New" was set.
    let mut late = push("ora", "user_info_modified", PushMode::Safe, PushFormat::Xml);
    late.create_time = Some(unix_now() as i64 - 60);
    let (status, body) = app.fake.push(&app.base, &late).await.expect("pushed");
    assert_eq!((status, body.as_str()), (200, "success"));
    assert_eq!(
        app.me(&token).await.json["nickName"],
        "New",
        "an event older than the name does not clear it"
    );
    app.stop().await;
}

async fn a_closed_authorization_in_one_app_keeps_the_account_of_the_other(db: &TestDatabase) {
    let app = TestApp::spawn_apps(db.url(), 2).await;
    let shop = app.token_in(SHOP, "fay.1").await;
    let club = app.token_in(CLUB, "fay.2").await;
    let event = push(
        "fay",
        "user_authorization_cancellation",
        PushMode::Safe,
        PushFormat::Json,
    );
    assert_eq!(
        app.fake.push(&app.base, &event).await.expect("pushed").0,
        200
    );
    assert_error(&app.me(&shop).await, 401, "session_revoked");
    let me = app.me(&club).await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.json["apps"], serde_json::json!([CLUB]));
    app.stop().await;
}

async fn revocations_and_cleanups_clear_what_they_name(db: &TestDatabase) {
    let app = TestApp::spawn_apps(db.url(), 2).await;
    let token = app.token_in(SHOP, "gus.1").await;
    let set = app
        .put_me(
            &token,
            r#"{"nickName":"Gus","avatarUrl":"https://a.b/gus"}"#,
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.text);
    let phone = app
        .post(
            "/api/me/phone",
            &token,
            &serde_json::json!({ "code": "13800138000" }),
        )
        .await;
    assert_eq!(phone.status, 200, "{}", phone.text);

    // Events made after the changes above (WeChat's CreateTime is in seconds, and an event
    // changes only data older than it).
    let after = Some(unix_now() as i64 + 1);
    let mut revoke = push(
        "gus",
        "user_authorization_revoke",
        PushMode::Safe,
        PushFormat::Xml,
    );
    revoke.revoke_info = Some("8".into());
    revoke.create_time = after;
    assert_eq!(
        app.fake.push(&app.base, &revoke).await.expect("pushed").0,
        200
    );
    let me = app.me(&token).await.json;
    assert!(me["phoneNumber"].is_null(), "{me}");
    assert_eq!(me["nickName"], "Gus", "only what was revoked");

    let mut modified = push("gus", "user_info_modified", PushMode::Safe, PushFormat::Xml);
    modified.create_time = after;
    assert_eq!(
        app.fake.push(&app.base, &modified).await.expect("pushed").0,
        200
    );
    let me = app.me(&token).await.json;
    assert!(
        me["nickName"].is_null() && me["avatarUrl"].is_null(),
        "{me}"
    );
    assert_eq!(app.me(&token).await.status, 200, "the session stays");

    for (event, user) in [
        ("user_authorization_cancellation", "nobody-known"),
        ("some_other_event", "gus"),
    ] {
        let other = push(user, event, PushMode::Safe, PushFormat::Json);
        let (status, body) = app.fake.push(&app.base, &other).await.expect("pushed");
        assert_eq!((status, body.as_str()), (200, "success"), "{event}");
    }
    assert_eq!(
        app.me(&token).await.status,
        200,
        "unknown openids and events change nothing"
    );
    app.stop().await;
}

async fn pushes_not_signed_by_the_app_or_stale_or_undecryptable_are_refused(db: &TestDatabase) {
    let app = TestApp::spawn_apps(db.url(), 2).await;
    let token = app.token_in(SHOP, "hal.1").await;
    let settings = app.fake.push_settings();
    let now = unix_now();
    let cancel = push(
        "hal",
        "user_authorization_cancellation",
        PushMode::Safe,
        PushFormat::Xml,
    );

    let mut forged = app.fake.push_request(&cancel, &settings, now);
    forged.query = forged.query.replace("msg_signature=", "msg_signature=0");
    assert_error(&send_push(&app, SHOP, &forged).await, 403, "push_rejected");

    let other_token =
        wxlogin_wechat_client::PushSettings::new("anotherToken", Some(DEV_PUSH_AES_KEY))
            .expect("valid");
    assert_foreign_and_stale_pushes_refused(&app, &cancel, &other_token, now).await;
    // Any timestamp at all is a 403 at worst: no overflow, no panic.
    for timestamp in [
        "-9223372036854775808",
        "9223372036854775807",
        "99999999999999999999",
        "-1",
        "",
        "1e3",
    ] {
        let mut odd = app.fake.push_request(&cancel, &settings, now);
        odd.query = odd.query.replace(
            &format!("timestamp={now}"),
            &format!("timestamp={timestamp}"),
        );
        assert_error(&send_push(&app, SHOP, &odd).await, 403, "push_rejected");
    }

    let safe = push(
        "hal",
        "user_authorization_cancellation",
        PushMode::Safe,
        PushFormat::Json,
    );
    let mut garbled = app.fake.push_request(&safe, &settings, now);
    garbled.body = garbled.body.replace("\"Encrypt\":\"", "\"Encrypt\":\"AAAA");
    assert_error(&send_push(&app, SHOP, &garbled).await, 403, "push_rejected");
    // Another app's ciphertext, correctly signed, sent to this app's URL.
    let mut elsewhere = safe.clone();
    elsewhere.appid = Some(CLUB.into());
    assert_error(
        &send_push(
            &app,
            SHOP,
            &app.fake.push_request(&elsewhere, &settings, now),
        )
        .await,
        403,
        "push_rejected",
    );
    assert_error(
        &send_push(
            &app,
            "wxnopushhere",
            &app.fake.push_request(&cancel, &settings, now),
        )
        .await,
        404,
        "not_found",
    );
    assert_eq!(app.me(&token).await.status, 200, "nothing changed");

    // The URL check of WeChat's console: signed, and within 5 minutes of now.
    let url_check = |timestamp: String, signature: String| {
        let app = &app;
        async move {
            app.request(
                "GET",
                &format!(
                    "/wechat/push/{SHOP}?signature={signature}&timestamp={timestamp}&nonce=42&echostr=hello-wechat"
                ),
                None,
                None,
            )
            .await
        }
    };
    let fresh = now.to_string();
    let check = url_check(fresh.clone(), settings.signature(&fresh, "42")).await;
    assert_eq!((check.status, check.text.as_str()), (200, "hello-wechat"));
    assert!(check.content_type.starts_with("text/plain"));
    assert_eq!(
        check
            .headers
            .get("x-content-type-options")
            .map(String::as_str),
        Some("nosniff"),
        "the echoed text is never sniffed as HTML"
    );
    let bad = url_check(
        fresh.clone(),
        format!("00{}", settings.signature(&fresh, "42")),
    )
    .await;
    assert_error(&bad, 403, "push_rejected");
    // A check URL that leaked, signed but old, makes the origin serve nothing.
    let old = (now - 600).to_string();
    assert_error(
        &url_check(old.clone(), settings.signature(&old, "42")).await,
        403,
        "push_rejected",
    );
    let huge = "-9223372036854775808".to_owned();
    assert_error(
        &url_check(huge.clone(), settings.signature(&huge, "42")).await,
        403,
        "push_rejected",
    );
    app.stop().await;
}

/// On an app without an EncodingAESKey, plain pushes are checked by their signature and
/// timestamp.
async fn plain_pushes_not_signed_by_the_app_or_stale_are_refused(db: &TestDatabase) {
    let app = spawn_plain_mode(db).await;
    let token = app.token_in(SHOP, "ivy.1").await;
    let settings = app.fake.push_settings();
    let now = unix_now();
    let cancel = push(
        "ivy",
        "user_authorization_cancellation",
        PushMode::Plain,
        PushFormat::Xml,
    );
    let mut forged = app.fake.push_request(&cancel, &settings, now);
    forged.query = forged.query.replace("signature=", "signature=0");
    assert_error(&send_push(&app, SHOP, &forged).await, 403, "push_rejected");
    let other_token =
        wxlogin_wechat_client::PushSettings::new("anotherToken", None).expect("valid");
    assert_foreign_and_stale_pushes_refused(&app, &cancel, &other_token, now).await;
    // A signed push without CreateTime cannot be placed in time: it changes nothing.
    let mut timeless = app.fake.push_request(&cancel, &settings, now);
    let create_time = format!("<CreateTime><![CDATA[{now}]]></CreateTime>");
    assert!(timeless.body.contains(&create_time), "{}", timeless.body);
    timeless.body = timeless.body.replace(&create_time, "");
    let answer = send_push(&app, SHOP, &timeless).await;
    assert_eq!((answer.status, answer.text.as_str()), (200, "success"));
    assert_eq!(app.me(&token).await.status, 200, "nothing changed");
    app.stop().await;
}

/// PostgreSQL only: one process serves a SQLite file.
#[actix_rt::test]
async fn deletions_logouts_and_pushes_on_one_instance_end_the_sessions_cached_on_another() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    let a = TestApp::spawn_apps(db.url(), 2).await;
    let b = a
        .another_instance(db.url(), &[("SESSION_CACHE_MS", "60000")])
        .await;
    let token = a.token_in(SHOP, "ida.1").await;
    let everywhere = a.token_in(CLUB, "jon.1").await;
    let pushed_out = a.token_in(SHOP, "kim.1").await;
    for cached in [&token, &everywhere, &pushed_out] {
        assert_eq!(b.me(cached).await.status, 200, "cached on B");
    }
    let cancel = push(
        "kim",
        "user_authorization_cancellation",
        PushMode::Safe,
        PushFormat::Xml,
    );
    assert_eq!(a.fake.push(&a.base, &cancel).await.expect("pushed").0, 200);
    let deleted = a
        .request(
            "DELETE",
            "/api/me",
            Some(&format!("Bearer {token}")),
            Some(&delete_body("ida.2")),
        )
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    let out = a
        .request(
            "POST",
            "/api/logout",
            Some(&format!("Bearer {everywhere}")),
            Some(r#"{"everywhere":true}"#),
        )
        .await;
    assert_eq!(out.status, 204);
    let since = Instant::now();
    for token in [&token, &everywhere, &pushed_out] {
        b.assert_revoked_within(token, since, Duration::from_secs(1))
            .await;
    }
    b.stop().await;
    a.stop().await;
}

wxlogin_e2e::on_both_databases!(
    logout_everywhere_ends_every_session_in_every_app,
    deleting_the_account_needs_a_fresh_code_of_the_same_person,
    a_closed_authorization_deletes_the_person_in_every_mode_and_format,
    a_plain_push_to_an_app_with_an_aes_key_is_refused_and_changes_nothing,
    deletion_attempts_count_against_the_user_rate_limit,
    a_push_sent_again_or_late_never_undoes_a_later_change,
    plain_pushes_not_signed_by_the_app_or_stale_are_refused,
    a_closed_authorization_in_one_app_keeps_the_account_of_the_other,
    revocations_and_cleanups_clear_what_they_name,
    pushes_not_signed_by_the_app_or_stale_or_undecryptable_are_refused,
);
