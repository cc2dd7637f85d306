//! USER_RATE_LIMIT: an account spends at most that many WeChat calls a minute.

use wxlogin_core::CoreError;

use crate::support::{Mocks, NOW, caller_in_app, user};

#[tokio::test]
async fn an_account_spends_at_most_its_user_rate_limit_of_wechat_calls() {
    let mut m = Mocks::new();
    m.settings.user_rate_limit = 3;
    m.access_tokens.expect_load_access_token().returning(|_| {
        Ok(Some(wxlogin_domain::StoredAccessToken {
            token: wxlogin_domain::AccessToken::new("AT"),
            use_until: NOW + 3600,
            fetches: 1,
        }))
    });
    m.wechat.expect_phone_number().times(3).returning(|_, _| {
        Ok(wxlogin_domain::PhoneInfo {
            phone_number: "13800138000".into(),
            pure_phone_number: "13800138000".into(),
            country_code: "86".into(),
        })
    });
    m.users
        .expect_update_profile()
        .times(3)
        .returning(|_, _, _| Ok(Some(user("u1"))));
    let service = m.service();
    for _ in 0..3 {
        service
            .bind_phone_number(&caller_in_app(), "13800138000")
            .await
            .expect("within the limit");
    }
    assert!(matches!(
        service
            .bind_phone_number(&caller_in_app(), "13800138000")
            .await,
        Err(CoreError::UserRateLimited)
    ));
    // `times(3)` on phone_number: the fourth call never reached WeChat.
}
