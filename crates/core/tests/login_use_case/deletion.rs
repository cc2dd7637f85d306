//! Account deletion: re-authenticated by a fresh code of the same person, or nothing happens.

use mockall::predicate::{always, eq};
use wxlogin_core::{CoreError, MAX_CODE_LEN};
use wxlogin_domain::{OpenId, WeChatError, WeChatSession};

use crate::support::{APP, Mocks, caller_in_app, wechat_session};

#[tokio::test]
async fn an_account_is_deleted_when_a_fresh_code_proves_it_is_its_owner() {
    let mut m = Mocks::new();
    m.wechat
        .expect_code2session()
        .with(eq("fresh"))
        .times(1)
        .returning(|_| Ok(wechat_session()));
    m.users
        .expect_openid()
        .with(eq("u1"), eq(APP))
        .times(1)
        .returning(|_, _| Ok(Some(OpenId::new("openid-1"))));
    m.users
        .expect_delete_account()
        .with(eq("u1"), eq(APP), eq(OpenId::new("openid-1")), always())
        .times(1)
        .returning(|_, _, _, _| {
            Ok(Some(wxlogin_domain::Deletion {
                user_id: "u1".into(),
                account_deleted: true,
                ended_sessions: vec!["s1".into()],
            }))
        });
    m.service()
        .delete_account(&caller_in_app(), "fresh")
        .await
        .expect("deleted");
}

#[tokio::test]
async fn a_code_of_someone_else_or_a_rejected_one_deletes_nothing() {
    for (returned, label) in [
        (
            Ok(WeChatSession {
                openid: OpenId::new("another-person"),
                ..wechat_session()
            }),
            "another person's code",
        ),
        (Err(WeChatError::InvalidCode), "a rejected code"),
        (Err(WeChatError::CodeUsed), "a used code"),
    ] {
        let mut m = Mocks::new();
        m.wechat
            .expect_code2session()
            .times(1)
            .returning(move |_| returned.clone());
        m.users
            .expect_openid()
            .returning(|_, _| Ok(Some(OpenId::new("openid-1"))));
        m.users.expect_delete_account().never();
        let result = m.service().delete_account(&caller_in_app(), "code").await;
        assert!(
            matches!(result, Err(CoreError::ReauthFailed(_))),
            "{label}: {result:?}"
        );
    }
}

#[tokio::test]
async fn a_deletion_code_is_checked_as_a_login_code_is_before_wechat_is_asked() {
    for code in ["", "has space", &"x".repeat(MAX_CODE_LEN + 1)] {
        let mut m = Mocks::new();
        m.wechat.expect_code2session().never();
        m.users.expect_delete_account().never();
        let result = m.service().delete_account(&caller_in_app(), code).await;
        assert!(
            matches!(result, Err(CoreError::MalformedCode)),
            "{code:?}: {result:?}"
        );
    }
}

#[tokio::test]
async fn deletion_attempts_count_against_the_accounts_user_data_calls() {
    let mut m = Mocks::new();
    m.settings.user_rate_limit = 2;
    m.wechat
        .expect_code2session()
        .times(2)
        .returning(|_| Err(WeChatError::InvalidCode));
    m.users.expect_delete_account().never();
    let service = m.service();
    for _ in 0..2 {
        assert!(matches!(
            service.delete_account(&caller_in_app(), "guess").await,
            Err(CoreError::ReauthFailed(_))
        ));
    }
    assert!(
        matches!(
            service.delete_account(&caller_in_app(), "guess").await,
            Err(CoreError::UserRateLimited)
        ),
        "the third attempt in a minute costs WeChat nothing"
    );
}

#[tokio::test]
async fn wechat_being_down_is_not_a_failed_reauthentication() {
    let mut m = Mocks::new();
    m.wechat
        .expect_code2session()
        .times(1)
        .returning(|_| Err(WeChatError::Busy));
    m.users.expect_delete_account().never();
    assert!(matches!(
        m.service().delete_account(&caller_in_app(), "code").await,
        Err(CoreError::WeChat(WeChatError::Busy))
    ));
}
