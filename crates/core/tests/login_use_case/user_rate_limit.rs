//! USER_RATE_LIMIT: an account spends at most that many WeChat calls a minute.

use std::sync::Arc;

use mockall::predicate::eq;
use wxlogin_core::CoreError;
use wxlogin_domain::{Cause, MockSharedLimits, StoreError, WeChatError};

use crate::support::{APP, Mocks, NOW, caller_in_app, user};

#[tokio::test]
async fn an_account_spends_at_most_its_user_rate_limit_of_wechat_calls() {
    let mut m = Mocks::new();
    m.settings.user_rate_limit = 3;
    phone_answers(&mut m, 3);
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

/// A phone number call WeChat answers, and the access token it is asked with.
fn phone_answers(m: &mut Mocks, times: usize) {
    an_access_token_at_hand(m);
    m.wechat
        .expect_phone_number()
        .times(times)
        .returning(|_, _| {
            Ok(wxlogin_domain::PhoneInfo {
                phone_number: "13800138000".into(),
                pure_phone_number: "13800138000".into(),
                country_code: "86".into(),
            })
        });
    m.users
        .expect_update_profile()
        .times(times)
        .returning(|_, _, _| Ok(Some(user("u1"))));
}

/// Shared limits that never saw the phone quota spent.
fn no_pauses(shared: &mut MockSharedLimits) {
    shared.expect_paused().returning(|_, _| Ok(false));
}

#[tokio::test]
async fn with_shared_limits_the_deployments_count_refuses_what_this_process_alone_would_allow() {
    let mut m = Mocks::new();
    m.settings.user_rate_limit = 2;
    phone_answers(&mut m, 1);
    let mut shared = MockSharedLimits::new();
    no_pauses(&mut shared);
    // Another instance spent the account's second call: the deployment refuses it.
    let mut answers = [true, false].into_iter();
    shared
        .expect_take()
        .with(eq("user:u1"), eq(2), eq(NOW * 1000))
        .times(2)
        .returning(move |_, _, _| Ok(answers.next().unwrap_or(false)));
    let service = m
        .builder()
        .shared_limits(Arc::new(shared))
        .build()
        .expect("built");
    let caller = caller_in_app();
    let phone = || service.bind_phone_number(&caller, "13800138000");
    phone().await.expect("the deployment allows the first");
    assert!(matches!(phone().await, Err(CoreError::UserRateLimited)));
    // This process has now seen two: the third is refused in memory, the store not asked.
    assert!(matches!(phone().await, Err(CoreError::UserRateLimited)));
    assert_eq!(service.limits().fallbacks(), 0);
}

#[tokio::test]
async fn when_the_shared_limits_fail_the_processes_own_limit_decides_without_asking_again_at_once()
{
    let mut m = Mocks::new();
    m.settings.user_rate_limit = 2;
    phone_answers(&mut m, 2);
    let mut shared = MockSharedLimits::new();
    no_pauses(&mut shared);
    // Asked once: for the next few seconds the process does not wait on a store that failed.
    shared
        .expect_take()
        .times(1)
        .returning(|_, _, _| Err(StoreError::Unavailable(Cause::msg("connection refused"))));
    let service = m
        .builder()
        .shared_limits(Arc::new(shared))
        .build()
        .expect("built");
    let caller = caller_in_app();
    let phone = || service.bind_phone_number(&caller, "13800138000");
    for _ in 0..2 {
        phone().await.expect("within this process's limit");
    }
    assert!(
        matches!(phone().await, Err(CoreError::UserRateLimited)),
        "the store being down does not lift the limit"
    );
    assert_eq!(service.limits().fallbacks(), 2);
}

#[tokio::test]
async fn a_spent_phone_quota_pauses_the_app_for_every_instance_until_midnight_in_beijing() {
    let mut m = Mocks::new();
    an_access_token_at_hand(&mut m);
    m.wechat.expect_phone_number().times(1).returning(|_, _| {
        Err(WeChatError::Api {
            errcode: 1_400_001,
            errmsg: "quota".into(),
        })
    });
    m.users.expect_update_profile().never();
    let mut shared = MockSharedLimits::new();
    shared.expect_take().returning(|_, _, _| Ok(true));
    shared
        .expect_paused()
        .with(eq(format!("pause:phone:{APP}")), eq(NOW * 1000))
        .times(1)
        .returning(|_, _| Ok(false));
    // NOW is 2027-01-15T08:00:00Z, 16:00 in Beijing: its midnight is 16:00Z.
    shared
        .expect_pause_until()
        .with(
            eq(format!("pause:phone:{APP}")),
            eq((NOW + 8 * 3600) * 1000),
        )
        .times(1)
        .returning(|_, _| Ok(()));
    let service = m
        .builder()
        .shared_limits(Arc::new(shared))
        .build()
        .expect("built");
    assert!(
        service
            .bind_phone_number(&caller_in_app(), "13800138000")
            .await
            .is_err()
    );
    // Paused here too now: neither WeChat (`times(1)`) nor the store (`paused` once) is asked.
    assert!(
        service
            .bind_phone_number(&caller_in_app(), "13800138000")
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_phone_quota_another_instance_saw_spent_is_not_asked_for() {
    let mut m = Mocks::new();
    m.wechat.expect_phone_number().never();
    let mut shared = MockSharedLimits::new();
    shared.expect_take().returning(|_, _, _| Ok(true));
    shared.expect_paused().times(1).returning(|_, _| Ok(true));
    let service = m
        .builder()
        .shared_limits(Arc::new(shared))
        .build()
        .expect("built");
    let refused = service
        .bind_phone_number(&caller_in_app(), "13800138000")
        .await;
    assert!(
        matches!(
            refused,
            Err(CoreError::WeChat(WeChatError::Api {
                errcode: 1_400_001,
                ..
            }))
        ),
        "{refused:?}"
    );
}

/// The app's access token is stored and fresh: no fetch from WeChat.
fn an_access_token_at_hand(m: &mut Mocks) {
    m.access_tokens.expect_load_access_token().returning(|_| {
        Ok(Some(wxlogin_domain::StoredAccessToken {
            token: wxlogin_domain::AccessToken::new("AT"),
            use_until: NOW + 3600,
            fetches: 1,
        }))
    });
}
