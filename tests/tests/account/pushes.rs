//! WeChat's authorization events applied: a closed authorization deletes the person (in that
//! app only, when there are others), revocations clear what they name, and a push sent again
//! or late never undoes a later change.

use wxlogin_e2e::{TestApp, assert_error};
use wxlogin_fake_wechat::{PushFormat, PushMode};
use wxlogin_user_store::testing::TestDatabase;

use crate::support::{CLUB, SHOP, push, send_push, spawn_plain_mode, unix_now};

wxlogin_e2e::on_both_databases!(
    a_closed_authorization_deletes_the_person_in_every_mode_and_format,
    a_push_sent_again_or_late_never_undoes_a_later_change,
    a_closed_authorization_in_one_app_keeps_the_account_of_the_other,
    revocations_and_cleanups_clear_what_they_name,
);

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
