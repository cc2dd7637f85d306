//! Logging in with a code: a first login and a returning one, and what a malformed code, a
//! code WeChat rejects and a store failure leave behind.

use mockall::predicate::eq;
use wxlogin_core::CoreError;
use wxlogin_domain::{SessionToken, StoreError, WeChatError};

use crate::support::{APP, Mocks, NOW, TTL, opened, wechat_session};

#[tokio::test]
async fn a_first_login_creates_the_user_opens_a_session_and_issues_a_token_expiring_with_it() {
    let mut m = Mocks::new();
    m.wechat
        .expect_code2session()
        .with(eq("code-1"))
        .times(1)
        .returning(|_| Ok(wechat_session()));
    m.sessions
        .expect_open_login()
        .withf(|l| {
            l.appid == APP
                && l.openid.expose() == "openid-1"
                && l.unionid.is_none()
                && l.session_key.expose() == "key"
                && l.created_at == NOW
                && l.expires_at == NOW + TTL
        })
        .times(1)
        .returning(|_| Ok(opened("u1", true, "s1")));
    m.tokens
        .expect_issue()
        .with(eq(SessionToken {
            user_id: "u1".into(),
            session_id: "s1".into(),
            appid: APP.into(),
            expires_at: NOW + TTL,
        }))
        .times(1)
        .returning(|_| Ok("the-token".into()));

    let outcome = m.service().login(None, "code-1").await.expect("login");

    assert_eq!(outcome.token, "the-token");
    assert_eq!((outcome.expires_at, outcome.expires_in), (NOW + TTL, TTL));
    assert!(!outcome.user_existed);
    assert_eq!(outcome.user.id, "u1");
}

#[tokio::test]
async fn a_returning_user_is_told_the_account_existed() {
    let mut m = Mocks::new();
    m.wechat
        .expect_code2session()
        .times(1)
        .returning(|_| Ok(wechat_session()));
    m.sessions
        .expect_open_login()
        .times(1)
        .returning(|_| Ok(opened("u1", false, "s2")));
    m.tokens
        .expect_issue()
        .times(1)
        .returning(|_| Ok("t".into()));
    assert!(
        m.service()
            .login(None, "code-2")
            .await
            .expect("login")
            .user_existed
    );
}

#[tokio::test]
async fn a_malformed_code_is_refused_without_asking_wechat() {
    let long = "a".repeat(129);
    for code in ["", " ", "has space", "tab\t", "中文", long.as_str()] {
        let mut m = Mocks::new();
        m.wechat.expect_code2session().never();
        m.sessions.expect_open_login().never();
        assert!(
            matches!(
                m.service().login(None, code).await,
                Err(CoreError::MalformedCode)
            ),
            "{code:?}"
        );
    }
}

#[tokio::test]
async fn a_code_wechat_rejects_creates_no_user_and_no_session() {
    for error in [
        WeChatError::InvalidCode,
        WeChatError::CodeUsed,
        WeChatError::RateLimited,
        WeChatError::RiskyUser,
        WeChatError::Busy,
        WeChatError::BadCredentials { errcode: 40125 },
        WeChatError::Api {
            errcode: 40001,
            errmsg: "x".into(),
        },
        WeChatError::InvalidResponse("garbage".into()),
        WeChatError::Unavailable("refused".into()),
        WeChatError::Timeout,
    ] {
        let mut m = Mocks::new();
        let returned = error.clone();
        m.wechat
            .expect_code2session()
            .times(1)
            .returning(move |_| Err(returned.clone()));
        m.sessions.expect_open_login().never();
        // A used code is looked for among other instances' logins: none here.
        m.sessions
            .expect_find_login_by_code()
            .returning(|_, _| Ok(None));
        m.tokens.expect_issue().never();
        match m.service().login(None, "code").await {
            Err(CoreError::WeChat(got)) => assert_eq!(got, error),
            other => panic!("{error:?} gave {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_store_failure_during_login_issues_no_token() {
    let mut m = Mocks::new();
    m.wechat
        .expect_code2session()
        .times(1)
        .returning(|_| Ok(wechat_session()));
    m.sessions
        .expect_open_login()
        .times(1)
        .returning(|_| Err(StoreError::Unavailable("down".into())));
    m.tokens.expect_issue().never();
    assert!(matches!(
        m.service().login(None, "code").await,
        Err(CoreError::Store(StoreError::Unavailable(_)))
    ));
}
