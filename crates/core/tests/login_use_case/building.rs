//! Building the service: every port is needed, one client per app, and the service is shared
//! across threads.

use std::sync::Arc;

use wxlogin_core::LoginService;
use wxlogin_domain::{
    MockAccessTokenStore, MockSessionStore, MockTokenCodec, MockUserStore, MockWeChatApi,
};

#[test]
fn a_service_cannot_be_built_without_its_ports() {
    let missing = LoginService::builder()
        .wechat(Arc::new(MockWeChatApi::new()))
        .build();
    assert!(
        matches!(missing, Err(wxlogin_core::BuildError::Missing(_))),
        "{missing:?}"
    );
}

#[test]
fn the_service_is_send_and_sync() {
    fn shared_across_threads<T: Send + Sync>() {}
    shared_across_threads::<LoginService>();
    shared_across_threads::<Arc<LoginService>>();
}

#[test]
fn two_clients_for_one_app_are_refused() {
    let twin = || {
        let mut wechat = MockWeChatApi::new();
        wechat.expect_appid().return_const("wxsame".to_owned());
        Arc::new(wechat)
    };
    let built = LoginService::builder()
        .wechat(twin())
        .wechat(twin())
        .users(Arc::new(MockUserStore::new()))
        .sessions(Arc::new(MockSessionStore::new()))
        .access_tokens(Arc::new(MockAccessTokenStore::new()))
        .tokens(Arc::new(MockTokenCodec::new()))
        .build();
    assert!(matches!(built, Err(wxlogin_core::BuildError::DuplicateApp(a)) if a == "wxsame"));
}
