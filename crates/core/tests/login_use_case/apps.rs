//! Several mini programs: a login names an app the service serves, or is refused without
//! asking WeChat.

use std::sync::Arc;

use mockall::predicate::eq;
use wxlogin_core::{CoreError, LoginService};
use wxlogin_domain::{
    MockAccessTokenStore, MockSessionStore, MockTokenCodec, MockUserStore, MockWeChatApi,
};

use crate::support::{Mocks, opened, wechat_session};

#[tokio::test]
async fn a_login_for_an_app_not_served_is_refused_without_asking_wechat() {
    let mut m = Mocks::new();
    m.wechat.expect_code2session().never();
    m.sessions.expect_open_login().never();
    let service = m.service();
    assert!(matches!(
        service.login(Some("wx-elsewhere"), "code").await,
        Err(CoreError::UnknownApp(Some(appid))) if appid == "wx-elsewhere"
    ));
}

#[tokio::test]
async fn with_several_apps_a_login_must_name_its_app() {
    let mut shop = MockWeChatApi::new();
    shop.expect_appid().return_const("wxshop".to_owned());
    shop.expect_code2session().never();
    let mut club = MockWeChatApi::new();
    club.expect_appid().return_const("wxclub".to_owned());
    club.expect_code2session()
        .with(eq("code"))
        .times(1)
        .returning(|_| Ok(wechat_session()));
    let mut sessions = MockSessionStore::new();
    sessions
        .expect_open_login()
        .withf(|l| l.appid == "wxclub")
        .times(1)
        .returning(|_| Ok(opened("u1", true, "s1")));
    let mut tokens = MockTokenCodec::new();
    tokens.expect_issue().returning(|_| Ok("t".into()));
    tokens.expect_issue_refresh().returning(|_| Ok("r".into()));
    let service = LoginService::builder()
        .wechat(Arc::new(shop))
        .wechat(Arc::new(club))
        .users(Arc::new(MockUserStore::new()))
        .sessions(Arc::new(sessions))
        .access_tokens(Arc::new(MockAccessTokenStore::new()))
        .tokens(Arc::new(tokens))
        .build()
        .expect("built");
    assert_eq!(service.appids().collect::<Vec<_>>(), ["wxclub", "wxshop"]);
    assert!(matches!(
        service.login(None, "code").await,
        Err(CoreError::UnknownApp(None))
    ));
    service
        .login(Some("wxclub"), "code")
        .await
        .expect("club login");
}
