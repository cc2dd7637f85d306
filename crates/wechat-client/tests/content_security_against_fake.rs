//! The real client's content-security calls (`msg_sec_check`, `media_check_async`) against a
//! local server that behaves like WeChat.

use std::time::Duration;

use wxlogin_domain::{AppSecret, ContentVerdict, Suggest, WeChatApi, WeChatError};
use wxlogin_fake_wechat::{
    DEV_APPID, DEV_SECRET, FakeApp, FakeWeChat, FakeWeChatConfig, PushDelivery, RunningFake,
};
use wxlogin_wechat_client::{HttpWeChatClient, WeChatConfig};

async fn fake(open_platform: bool) -> (FakeWeChat, RunningFake) {
    let app = FakeApp::new(DEV_APPID, DEV_SECRET);
    let fake = FakeWeChat::new(FakeWeChatConfig::single(if open_platform {
        app.bound()
    } else {
        app
    }));
    let running = fake
        .clone()
        .start("127.0.0.1:0")
        .await
        .expect("fake starts");
    (fake, running)
}

fn config(base: &str) -> WeChatConfig {
    let mut config = WeChatConfig::new(DEV_APPID, AppSecret::new(DEV_SECRET)).with_api_base(base);
    config.backoff = Duration::from_millis(10);
    config
}

/// A client of the fake, the access token it holds, and alice's openid.
async fn content_checker() -> (
    FakeWeChat,
    RunningFake,
    HttpWeChatClient,
    wxlogin_domain::AccessToken,
    wxlogin_domain::OpenId,
) {
    let (fake, running) = fake(false).await;
    let client = HttpWeChatClient::new(config(&running.base_url()));
    let token = client
        .stable_token(false)
        .await
        .expect("token")
        .access_token;
    let openid = wxlogin_domain::OpenId::new(fake.openid_for("alice"));
    (fake, running, client, token, openid)
}

#[actix_rt::test]
async fn a_text_is_judged_pass_review_or_risky_by_result_suggest() {
    let (fake, _running, client, token, openid) = content_checker().await;
    let cases = [
        ("Alice", Suggest::Pass, 100),
        ("please review me", Suggest::Review, 21000),
        ("a risky name", Suggest::Risky, 20001),
        ("网上赌博", Suggest::Risky, 20006),
    ];
    for (content, suggest, label) in cases {
        assert_eq!(
            client.msg_sec_check(&token, &openid, content).await,
            Ok(ContentVerdict { suggest, label }),
            "{content}"
        );
    }
    let calls = fake.msg_sec_check_calls();
    assert_eq!(calls.len(), 4);
    assert_eq!(calls[0].content, "Alice");
    assert_eq!(calls[0].openid, openid.expose());
    assert_eq!(calls[0].appid.as_deref(), Some(DEV_APPID));
}

#[actix_rt::test]
async fn a_label_sent_as_a_string_is_read_as_its_number() {
    let (_fake, _running, client, token, openid) = content_checker().await;
    assert_eq!(
        client
            .msg_sec_check(&token, &openid, "risky labelstring")
            .await,
        Ok(ContentVerdict {
            suggest: Suggest::Risky,
            label: 20001
        })
    );
    assert_eq!(
        client.msg_sec_check(&token, &openid, "labelstring").await,
        Ok(ContentVerdict {
            suggest: Suggest::Pass,
            label: 100
        })
    );
}

#[actix_rt::test]
async fn a_spent_quota_is_quota_exhausted_and_not_retried() {
    let (fake, _running, client, token, openid) = content_checker().await;
    assert_eq!(
        client.msg_sec_check(&token, &openid, "quota").await,
        Err(WeChatError::QuotaExhausted)
    );
    assert_eq!(fake.msg_sec_check_calls().len(), 1);
    fake.set_media_check_quota_spent(true);
    assert_eq!(
        client
            .media_check_async(&token, &openid, "http://127.0.0.1:1/a.png")
            .await,
        Err(WeChatError::QuotaExhausted)
    );
    assert_eq!(fake.media_check_calls().len(), 1);
    assert_eq!(fake.media_check_calls()[0].trace_id, None);
}

#[actix_rt::test]
async fn a_busy_text_check_is_retried_a_bounded_number_of_times() {
    let (fake, _running, client, token, openid) = content_checker().await;
    assert_eq!(
        client.msg_sec_check(&token, &openid, "busy").await,
        Err(WeChatError::Busy)
    );
    assert_eq!(
        fake.msg_sec_check_calls().len(),
        3,
        "one try and two retries"
    );
}

#[actix_rt::test]
async fn content_checks_with_a_refused_access_token_are_access_token_invalid() {
    let (fake, _running, client, token, openid) = content_checker().await;
    fake.rotate_access_token();
    assert_eq!(
        client.msg_sec_check(&token, &openid, "Alice").await,
        Err(WeChatError::AccessTokenInvalid { errcode: 40001 })
    );
    assert_eq!(
        client
            .media_check_async(&token, &openid, "http://127.0.0.1:1/a.png")
            .await,
        Err(WeChatError::AccessTokenInvalid { errcode: 40001 })
    );
    assert_eq!(fake.msg_sec_check_calls()[0].appid, None);
}

#[actix_rt::test]
async fn malformed_texts_are_refused_with_wechats_errcodes() {
    let (_fake, _running, client, token, openid) = content_checker().await;
    let too_long = "字".repeat(2501);
    for (content, errcode) in [
        ("", 44002),
        (too_long.as_str(), 47001),
        ("errcode_43104", 43104),
    ] {
        assert!(
            matches!(
                client.msg_sec_check(&token, &openid, content).await,
                Err(WeChatError::Api { errcode: e, .. }) if e == errcode
            ),
            "{errcode}"
        );
    }
    let longest = "字".repeat(2500);
    assert!(
        client
            .msg_sec_check(&token, &openid, &longest)
            .await
            .is_ok()
    );
}

#[actix_rt::test]
async fn media_check_async_answers_the_trace_id_the_check_goes_by() {
    let (fake, _running, client, token, openid) = content_checker().await;
    // Nothing listens there: the check is answered at once, and fails its download later.
    let url = "http://127.0.0.1:1/avatars/a.png";
    let trace_id = client
        .media_check_async(&token, &openid, url)
        .await
        .expect("a trace_id");
    assert!(!trace_id.is_empty());
    let calls = fake.media_check_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].media_url, url);
    assert_eq!(calls[0].trace_id.as_deref(), Some(trace_id.as_str()));
    let finished = fake
        .wait_for_media_check(&trace_id, Duration::from_secs(10))
        .await
        .expect("the check finishes");
    assert!(!finished.downloaded);
    assert_eq!(finished.delivery, PushDelivery::NoPushUrl);
}
