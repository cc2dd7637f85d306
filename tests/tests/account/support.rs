//! The two apps the cases use, a deletion's body, and pushes: built, sent, and a server that
//! takes them in plain mode only.

use wxlogin_e2e::{Reply, TestApp};
use wxlogin_fake_wechat::{DEV_APPIDS, FakePush, PushFormat, PushMode, PushRequest};
use wxlogin_user_store::testing::TestDatabase;

pub(crate) const SHOP: &str = DEV_APPIDS[0];
pub(crate) const CLUB: &str = DEV_APPIDS[1];

pub(crate) fn delete_body(code: &str) -> String {
    serde_json::json!({ "code": code }).to_string()
}

pub(crate) fn push(user: &str, event: &str, mode: PushMode, format: PushFormat) -> FakePush {
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

/// A server whose one app (SHOP) has a push Token but no EncodingAESKey: plain mode only.
pub(crate) async fn spawn_plain_mode(db: &TestDatabase) -> TestApp {
    TestApp::spawn_env(db.url(), &[("WECHAT_PUSH_AES_KEY", "")]).await
}

pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// Sends a push request as it is (the same one may be sent twice, as WeChat or a replayer does).
pub(crate) async fn send_push(app: &TestApp, appid: &str, request: &PushRequest) -> Reply {
    app.request_with(
        "POST",
        &format!("/wechat/push/{appid}?{}", request.query),
        &[("Content-Type", request.content_type)],
        Some(&request.body),
    )
    .await
}
