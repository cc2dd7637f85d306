//! Pushes refused, changing nothing: not signed by the app, stale, undecryptable, or plain on
//! an app set up for safe mode.

use wxlogin_e2e::{TestApp, assert_error};
use wxlogin_fake_wechat::{DEV_PUSH_AES_KEY, FakePush, PushFormat, PushMode};
use wxlogin_user_store::testing::TestDatabase;

use crate::support::{CLUB, SHOP, push, send_push, spawn_plain_mode, unix_now};

wxlogin_e2e::on_both_databases!(
    a_plain_push_to_an_app_with_an_aes_key_is_refused_and_changes_nothing,
    plain_pushes_not_signed_by_the_app_or_stale_are_refused,
    pushes_not_signed_by_the_app_or_stale_or_undecryptable_are_refused,
);

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
