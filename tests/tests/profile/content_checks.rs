//! WeChat's content security over HTTP: a risky nickname refused, a risky avatar taken down by
//! the `wxa_media_check` push (and a replayed or forged push doing nothing), and what happens
//! when WeChat cannot be asked.

use std::time::Duration;

use serde_json::json;
use wxlogin_domain::Suggest;
use wxlogin_e2e::{TestApp, assert_error};
use wxlogin_fake_wechat::{DEV_APPID, PushFormat, PushMessage, PushMode};
use wxlogin_user_store::testing::TestDatabase;

use crate::images::png;
use crate::support::{path_of, upload};

wxlogin_e2e::on_both_databases!(
    a_risky_nickname_is_refused_and_nothing_changes,
    a_risky_media_check_push_takes_the_avatar_down_and_a_replay_does_nothing,
    an_external_avatar_url_is_checked_and_taken_down_like_an_upload,
    when_wechat_cannot_check_the_change_is_taken_or_refused_as_configured,
);

/// A server with content checks on, whose app's pushes the fake sends to it.
async fn checked_app(db: &TestDatabase, env: &[(&str, &str)]) -> TestApp {
    let mut all = vec![("CONTENT_CHECK", "on")];
    all.extend_from_slice(env);
    let app = TestApp::spawn_env(db.url(), &all).await;
    assert!(
        app.fake
            .set_push_url(DEV_APPID, &format!("{}/wechat/push/{DEV_APPID}", app.base))
    );
    app
}

async fn a_risky_nickname_is_refused_and_nothing_changes(db: &TestDatabase) {
    let app = checked_app(db, &[("METRICS_BIND_ADDR", "127.0.0.1:0")]).await;
    let token = app.token("nick.1").await;
    assert_eq!(
        app.put_me(&token, r#"{"nickName":"小明"}"#).await.status,
        200
    );
    let refused = app.put_me(&token, r#"{"nickName":"a risky name"}"#).await;
    assert_error(&refused, 400, "content_rejected");
    assert_eq!(app.me(&token).await.json["nickName"], "小明");
    let checked = app.fake.msg_sec_check_calls();
    assert_eq!(checked.len(), 2, "each new nickname is checked");
    assert_eq!(
        checked[1].openid,
        app.fake.openid_for("nick"),
        "in the user's name"
    );
    let review = app
        .put_me(&token, r#"{"nickName":"please review me"}"#)
        .await;
    assert_eq!(review.status, 200, "review is let through: {}", review.text);
}

async fn a_risky_media_check_push_takes_the_avatar_down_and_a_replay_does_nothing(
    db: &TestDatabase,
) {
    let app = checked_app(db, &[]).await;
    let token = app.token("pic.1").await;
    app.fake
        .set_media_verdict(&app.fake.openid_for("pic"), Suggest::Risky);
    let reply = upload(&app, &token, &png(), "a.png").await;
    // WeChat answers later, but may answer before the upload's own answer is out: shown
    // until WeChat says otherwise, or refused if it said so first.
    let call = app.fake.media_check_calls().pop().expect("asked");
    let url = call.media_url.clone();
    match reply.status {
        200 => assert_eq!(
            reply.json["avatarUrl"],
            url.as_str(),
            "WeChat is sent the public URL"
        ),
        _ => assert_error(&reply, 400, "content_rejected"),
    }
    let trace_id = call.trace_id.expect("a trace id");
    let finished = app
        .fake
        .wait_for_media_check(&trace_id, Duration::from_secs(10))
        .await
        .expect("the check finished");
    assert!(
        finished.downloaded,
        "WeChat downloaded the avatar from its URL"
    );
    assert_eq!(
        finished.delivery,
        wxlogin_fake_wechat::PushDelivery::Answered {
            status: 200,
            body: "success".into()
        }
    );
    assert_eq!(
        app.me(&token).await.json["avatarUrl"],
        serde_json::Value::Null
    );
    assert_eq!(app.request_raw("GET", &path_of(&url), &[]).await.0, 404);

    // A new avatar, passed; then the old verdict sent again (a replay) leaves it.
    app.fake
        .set_media_verdict(&app.fake.openid_for("pic"), Suggest::Pass);
    let again = upload(&app, &token, &png(), "b.png").await;
    let new_url = again.json["avatarUrl"].as_str().expect("url").to_owned();
    let risky_again = PushMessage {
        appid: DEV_APPID.into(),
        openid: app.fake.openid_for("pic"),
        fields: [
            ("ToUserName", json!("gh_fake00000000")),
            ("FromUserName", json!(app.fake.openid_for("pic"))),
            ("CreateTime", json!(finished_at())),
            ("MsgType", json!("event")),
            ("Event", json!("wxa_media_check")),
            ("appid", json!(DEV_APPID)),
            ("trace_id", json!(trace_id)),
            ("version", json!(2)),
            ("result", json!({"suggest": "risky", "label": 20002})),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect(),
        mode: PushMode::Safe,
        format: PushFormat::Xml,
    };
    let (status, body) = app
        .fake
        .send_push(
            &format!("{}/wechat/push/{DEV_APPID}", app.base),
            &risky_again,
        )
        .await
        .expect("pushed");
    assert_eq!((status, body.as_str()), (200, "success"));
    assert_eq!(app.me(&token).await.json["avatarUrl"], new_url.as_str());

    // A forged push (not signed with the app's Token) is refused.
    let forged = app
        .request_with(
            "POST",
            &format!("/wechat/push/{DEV_APPID}?signature=0&timestamp=1&nonce=1&encrypt_type=aes&msg_signature=0"),
            &[("Content-Type", "application/json")],
            Some(&format!(
                r#"{{"ToUserName":"gh","Encrypt":"AAAA","Event":"wxa_media_check","trace_id":"{trace_id}"}}"#
            )),
        )
        .await;
    assert_error(&forged, 403, "push_rejected");
    assert_eq!(app.me(&token).await.json["avatarUrl"], new_url.as_str());
}

async fn an_external_avatar_url_is_checked_and_taken_down_like_an_upload(db: &TestDatabase) {
    let app = checked_app(db, &[]).await;
    let token = app.token("ext.1").await;
    app.fake
        .set_media_verdict(&app.fake.openid_for("ext"), Suggest::Risky);
    // Any URL WeChat can download: the server's own health probe will do.
    let url = format!("{}/healthz", app.base);
    let reply = app
        .put_me(&token, &format!(r#"{{"avatarUrl":"{url}"}}"#))
        .await;
    let call = app
        .fake
        .media_check_calls()
        .pop()
        .expect("WeChat was asked");
    assert_eq!(call.media_url, url);
    match reply.status {
        200 => assert_eq!(reply.json["avatarUrl"], url.as_str()),
        _ => assert_error(&reply, 400, "content_rejected"),
    }
    app.fake
        .wait_for_media_check(&call.trace_id.expect("trace"), Duration::from_secs(10))
        .await
        .expect("the check finished");
    assert_eq!(
        app.me(&token).await.json["avatarUrl"],
        serde_json::Value::Null
    );
}

async fn when_wechat_cannot_check_the_change_is_taken_or_refused_as_configured(db: &TestDatabase) {
    let open = checked_app(db, &[]).await;
    let token = open.token("quota.1").await;
    open.fake.set_media_check_quota_spent(true);
    assert_eq!(
        upload(&open, &token, &png(), "a.png").await.status,
        200,
        "fail open"
    );
    let reply = open.put_me(&token, r#"{"nickName":"quota"}"#).await;
    assert_eq!(reply.status, 200, "a spent quota: taken unchecked");
    let asked = open.fake.media_check_calls().len();
    assert_eq!(upload(&open, &token, &png(), "b.png").await.status, 200);
    assert_eq!(
        open.fake.media_check_calls().len(),
        asked,
        "the app's checks pause until the next minute"
    );
    open.stop().await;

    let closed = checked_app(db, &[("CONTENT_CHECK_FAIL", "closed")]).await;
    let token = closed.token("closed.1").await;
    let reply = closed.put_me(&token, r#"{"nickName":"busy bee"}"#).await;
    assert_error(&reply, 503, "unavailable");
    closed.fake.set_media_check_quota_spent(true);
    let reply = upload(&closed, &token, &png(), "a.png").await;
    assert_error(&reply, 503, "unavailable");
    assert_eq!(
        closed.me(&token).await.json["avatarUrl"],
        serde_json::Value::Null
    );
}

fn finished_at() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}
