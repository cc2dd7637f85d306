//! The real client against a local server that behaves like WeChat.

use std::time::Duration;

use wxlogin_domain::{AppSecret, WeChatApi, WeChatError};
use wxlogin_fake_wechat::{
    DEV_APPID, DEV_SECRET, FakeApp, FakeWeChat, FakeWeChatConfig, RunningFake,
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

#[actix_rt::test]
async fn a_good_code_gives_the_users_openid_and_session_key() {
    let (fake, running) = fake(false).await;
    let client = HttpWeChatClient::new(config(&running.base_url()));
    let session = client.code2session("alice.1").await.expect("success");
    assert_eq!(session.openid.expose(), fake.openid_for("alice"));
    assert_eq!(
        session.session_key.expose(),
        fake.session_key_for("alice.1")
    );
    assert_eq!(session.unionid, None);
}

#[actix_rt::test]
async fn the_unionid_comes_through_when_wechat_sends_one() {
    let (fake, running) = fake(true).await;
    let client = HttpWeChatClient::new(config(&running.base_url()));
    let session = client.code2session("bob").await.expect("success");
    assert_eq!(
        session.unionid.map(|u| u.expose().to_owned()),
        Some(fake.unionid_for("bob"))
    );
}

#[actix_rt::test]
async fn every_wechat_error_arrives_as_its_kind() {
    let (_fake, running) = fake(false).await;
    let client = HttpWeChatClient::new(config(&running.base_url()));
    let cases = [
        ("invalid", WeChatError::InvalidCode),
        ("used", WeChatError::CodeUsed),
        ("ratelimited", WeChatError::RateLimited),
        ("risky", WeChatError::RiskyUser),
        ("busy", WeChatError::Busy),
    ];
    for (code, expected) in cases {
        assert_eq!(client.code2session(code).await, Err(expected), "{code}");
    }
    match client.code2session("errcode_61234").await {
        Err(WeChatError::Api {
            errcode: 61234,
            errmsg,
        }) => assert!(errmsg.contains("rid:")),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        client.code2session("garbage").await,
        Err(WeChatError::InvalidResponse(_))
    ));
    assert!(matches!(
        client.code2session("incomplete").await,
        Err(WeChatError::InvalidResponse(_))
    ));
}

#[actix_rt::test]
async fn a_code_exchanged_twice_is_reported_as_used() {
    let (_fake, running) = fake(false).await;
    let client = HttpWeChatClient::new(config(&running.base_url()));
    client.code2session("carol.7").await.expect("first use");
    assert_eq!(
        client.code2session("carol.7").await,
        Err(WeChatError::CodeUsed)
    );
}

#[actix_rt::test]
async fn wrong_credentials_are_reported_as_such() {
    let (_fake, running) = fake(false).await;
    let mut bad_secret = config(&running.base_url());
    bad_secret.secret = AppSecret::new("wrong");
    let client = HttpWeChatClient::new(bad_secret);
    assert_eq!(
        client.code2session("dave").await,
        Err(WeChatError::BadCredentials { errcode: 40125 })
    );
    let mut bad_appid = config(&running.base_url());
    bad_appid.appid = "wxwrong".into();
    let client = HttpWeChatClient::new(bad_appid);
    assert_eq!(
        client.code2session("dave").await,
        Err(WeChatError::BadCredentials { errcode: 40013 })
    );
}

#[actix_rt::test]
async fn system_busy_is_retried_and_a_later_success_is_returned() {
    let (fake, running) = fake(false).await;
    let client = HttpWeChatClient::new(config(&running.base_url()));
    let session = client
        .code2session("flaky")
        .await
        .expect("success on retry");
    assert_eq!(session.openid.expose(), fake.openid_for("flaky"));
    assert_eq!(fake.code2session_calls(), 2);
}

#[actix_rt::test]
async fn system_busy_is_retried_a_bounded_number_of_times() {
    let (fake, running) = fake(false).await;
    let client = HttpWeChatClient::new(config(&running.base_url()));
    assert_eq!(client.code2session("busy").await, Err(WeChatError::Busy));
    assert_eq!(fake.code2session_calls(), 3, "one try and two retries");
}

#[actix_rt::test]
async fn a_rejected_code_is_never_retried() {
    let (fake, running) = fake(false).await;
    let client = HttpWeChatClient::new(config(&running.base_url()));
    for code in [
        "invalid",
        "used",
        "risky",
        "ratelimited",
        "errcode_40001",
        "garbage",
    ] {
        let _ = client.code2session(code).await;
    }
    assert_eq!(fake.code2session_calls(), 6);
}

#[actix_rt::test]
async fn a_slow_answer_is_a_timeout_and_is_not_retried() {
    let (fake, running) = fake(false).await;
    let mut config = config(&running.base_url());
    config.timeout = Duration::from_millis(200);
    let client = HttpWeChatClient::new(config);
    assert_eq!(
        client.code2session("slow_3000").await,
        Err(WeChatError::Timeout)
    );
    assert_eq!(fake.code2session_calls(), 1);
}

#[actix_rt::test]
async fn an_unreachable_wechat_is_unreachable_after_retries() {
    // Bind a port, then free it: nothing listens there.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port");
    let client = HttpWeChatClient::new(config(&format!("http://{addr}")));
    assert!(matches!(
        client.code2session("erin").await,
        Err(WeChatError::Unreachable(_))
    ));
}

#[actix_rt::test]
async fn an_http_error_is_unavailable_and_never_retried() {
    let (fake, running) = fake(false).await;
    let client = HttpWeChatClient::new(config(&running.base_url()));
    // 408 is what actix-web answers a request it waited for too long (a stalled server
    // resuming), with an empty body: trouble on the way, not a reply to parse.
    for (i, status) in [500, 502, 503, 408, 429].into_iter().enumerate() {
        assert!(matches!(
            client.code2session(&format!("status_{status}")).await,
            Err(WeChatError::Unavailable(_))
        ));
        assert_eq!(
            fake.code2session_calls(),
            i + 1,
            "HTTP {status} was retried"
        );
    }
}

#[actix_rt::test]
async fn a_reply_lost_mid_body_is_unavailable_and_never_retried() {
    let (fake, running) = fake(false).await;
    let client = HttpWeChatClient::new(config(&running.base_url()));
    let result = client.code2session("cut").await;
    assert!(
        matches!(result, Err(WeChatError::Unavailable(_))),
        "{result:?}"
    );
    assert_eq!(fake.code2session_calls(), 1, "the code may have been used");
}

#[test]
fn one_client_serves_tasks_on_every_thread_of_a_multi_threaded_runtime() {
    let fake = FakeWeChat::new(FakeWeChatConfig::default());
    let running = fake
        .clone()
        .start_in_background("127.0.0.1:0")
        .expect("fake starts");
    let base = running.base_url();
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("runtime");
    let client = std::sync::Arc::new(HttpWeChatClient::new(config(&base)));
    let openids = multi.block_on(async {
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let client = std::sync::Arc::clone(&client);
                tokio::spawn(async move { client.code2session(&format!("user{i}")).await })
            })
            .collect();
        let mut openids = Vec::new();
        for task in tasks {
            openids.push(task.await.expect("task").expect("login").openid);
        }
        openids
    });
    for (i, openid) in openids.iter().enumerate() {
        assert_eq!(openid.expose(), fake.openid_for(&format!("user{i}")));
    }
    drop(multi);
}

#[actix_rt::test]
async fn an_answer_that_is_not_from_wechat_is_an_invalid_response() {
    let (_fake, running) = fake(false).await;
    // The fake serves no such path: a 404 is not a WeChat answer either.
    let client = HttpWeChatClient::new(config(&format!("{}/nowhere", running.base_url())));
    assert!(matches!(
        client.code2session("frank").await,
        Err(WeChatError::InvalidResponse(_))
    ));
}

#[actix_rt::test]
async fn stable_token_hands_out_the_same_token_until_forced() {
    let (fake, running) = fake(false).await;
    let client = HttpWeChatClient::new(config(&running.base_url()));
    let first = client.stable_token(false).await.expect("token");
    assert!(first.expires_in > 7000 && first.expires_in <= 7200);
    let again = client.stable_token(false).await.expect("token");
    assert_eq!(again.access_token, first.access_token, "normal mode");
    let forced = client.stable_token(true).await.expect("token");
    assert_ne!(forced.access_token, first.access_token);
    assert_eq!(fake.stable_token_calls(), 3);
}

#[actix_rt::test]
async fn stable_token_with_a_wrong_secret_is_a_credentials_error() {
    let (_fake, running) = fake(false).await;
    let config =
        WeChatConfig::new(DEV_APPID, AppSecret::new("wrong")).with_api_base(running.base_url());
    let client = HttpWeChatClient::new(config);
    assert_eq!(
        client.stable_token(false).await,
        Err(WeChatError::BadCredentials { errcode: 40125 })
    );
}

#[actix_rt::test]
async fn a_phone_code_gives_the_number_with_its_country_code() {
    let (_fake, running) = fake(false).await;
    let client = HttpWeChatClient::new(config(&running.base_url()));
    let token = client
        .stable_token(false)
        .await
        .expect("token")
        .access_token;
    let home = client
        .phone_number(&token, "13800138000")
        .await
        .expect("number");
    assert_eq!(
        (home.phone_number.as_str(), home.country_code.as_str()),
        ("13800138000", "86")
    );
    let abroad = client
        .phone_number(&token, "+852.61234567")
        .await
        .expect("number");
    assert_eq!(
        (
            abroad.phone_number.as_str(),
            abroad.pure_phone_number.as_str(),
            abroad.country_code.as_str()
        ),
        ("+85261234567", "61234567", "852")
    );
    assert_eq!(
        client.phone_number(&token, "13800138000").await,
        Err(WeChatError::InvalidCode),
        "a phone code works once"
    );
}

#[actix_rt::test]
async fn a_rotated_access_token_is_refused_with_40001() {
    let (fake, running) = fake(false).await;
    let client = HttpWeChatClient::new(config(&running.base_url()));
    let token = client
        .stable_token(false)
        .await
        .expect("token")
        .access_token;
    fake.rotate_access_token();
    assert_eq!(
        client.phone_number(&token, "13800138000").await,
        Err(WeChatError::AccessTokenInvalid { errcode: 40001 })
    );
}

#[actix_rt::test]
async fn an_expired_access_token_is_refused_with_42001() {
    let (fake, running) = fake(false).await;
    fake.set_access_token_ttl(Duration::from_millis(300));
    let client = HttpWeChatClient::new(config(&running.base_url()));
    let token = client
        .stable_token(false)
        .await
        .expect("token")
        .access_token;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        client.phone_number(&token, "13800138000").await,
        Err(WeChatError::AccessTokenInvalid { errcode: 42001 })
    );
}

#[actix_rt::test]
async fn checksession_tells_the_current_session_key_from_a_stale_one() {
    let (_fake, running) = fake(false).await;
    let client = HttpWeChatClient::new(config(&running.base_url()));
    let token = client
        .stable_token(false)
        .await
        .expect("token")
        .access_token;
    let old = client.code2session("sam.1").await.expect("login");
    assert_eq!(
        client
            .check_session(&token, &old.openid, &old.session_key)
            .await,
        Ok(true)
    );
    let new = client.code2session("sam.2").await.expect("login again");
    assert_eq!(
        client
            .check_session(&token, &old.openid, &old.session_key)
            .await,
        Ok(false),
        "the older key went stale"
    );
    assert_eq!(
        client
            .check_session(&token, &new.openid, &new.session_key)
            .await,
        Ok(true)
    );
}
