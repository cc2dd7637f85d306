//! The shared access token: fetched once for concurrent calls and instances, again shortly
//! before it expires, replaced once when WeChat refuses it, and never asked for by a login.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use mockall::predicate::eq;
use wxlogin_core::CoreError;
use wxlogin_domain::{
    AccessToken, AccessTokenStore, MockWeChatApi, StableToken, UserStore, WeChatError,
};
use wxlogin_user_store::testing::{TestDatabase, test_sealer};
use wxlogin_user_store::{DieselStore, PoolOptions};

use crate::support::{
    V1_APPID, V1_KEY, V1_OPENID, World, logged_in, phone, wechat_logging_in, with_token,
};

on_both_databases!(
    concurrent_calls_share_one_token_fetch,
    the_token_is_fetched_again_shortly_before_it_expires,
    a_refused_token_is_replaced_and_the_call_retried_once,
    a_refused_token_handed_back_by_normal_mode_is_force_refreshed,
    a_token_refused_twice_is_not_retried_again,
    an_exhausted_quota_is_never_retried,
    two_instances_on_one_database_make_one_fetch,
    login_never_needs_the_access_token,
);

async fn concurrent_calls_share_one_token_fetch(w: World) {
    let mut wechat = wechat_logging_in(V1_OPENID, V1_KEY);
    with_token(&mut wechat, "AT");
    wechat
        .expect_phone_number()
        .times(10)
        .returning(|_, _| Ok(phone("13800138000")));
    let service = w.service(wechat);
    let caller = logged_in(&service).await;

    let results = futures_util::future::join_all(
        (0..10).map(|_| service.bind_phone_number(&caller, "phone-code")),
    )
    .await;

    assert!(results.iter().all(Result::is_ok));
    assert_eq!(service.access_token_fetches().here, 1);
}

async fn the_token_is_fetched_again_shortly_before_it_expires(w: World) {
    let mut wechat = wechat_logging_in(V1_OPENID, V1_KEY);
    fetches_in_order(&mut wechat, &[(false, "AT-1"), (false, "AT-2")]);
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    wechat.expect_phone_number().returning(move |token, _| {
        log.lock().expect("lock").push(token.expose().to_owned());
        Ok(phone("13800138000"))
    });
    let service = w.service(wechat);
    let caller = logged_in(&service).await;

    service.bind_phone_number(&caller, "a").await.expect("a");
    w.clock.advance(7200 - 300 - 1);
    service.bind_phone_number(&caller, "b").await.expect("b");
    w.clock.advance(1);
    service.bind_phone_number(&caller, "c").await.expect("c");

    assert_eq!(*seen.lock().expect("lock"), ["AT-1", "AT-1", "AT-2"]);
}

async fn a_refused_token_is_replaced_and_the_call_retried_once(w: World) {
    let mut wechat = wechat_logging_in(V1_OPENID, V1_KEY);
    fetches_in_order(&mut wechat, &[(false, "AT-1"), (false, "AT-2")]);
    refused_with_at_1_served_with_at_2(&mut wechat);
    let service = w.service(wechat);
    let caller = logged_in(&service).await;

    let user = service
        .bind_phone_number(&caller, "code")
        .await
        .expect("retried with the new token");

    assert_eq!(user.phone_number.as_deref(), Some("13800138000"));
    assert_eq!(service.access_token_fetches().here, 2);
}

async fn a_refused_token_handed_back_by_normal_mode_is_force_refreshed(w: World) {
    let mut wechat = wechat_logging_in(V1_OPENID, V1_KEY);
    fetches_in_order(
        &mut wechat,
        &[(false, "AT-1"), (false, "AT-1"), (true, "AT-2")],
    );
    refused_with_at_1_served_with_at_2(&mut wechat);
    let service = w.service(wechat);
    let caller = logged_in(&service).await;

    service
        .bind_phone_number(&caller, "code")
        .await
        .expect("retried with the forced token");
}

async fn a_token_refused_twice_is_not_retried_again(w: World) {
    let mut wechat = wechat_logging_in(V1_OPENID, V1_KEY);
    let n = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&n);
    wechat.expect_stable_token().times(2).returning(move |_| {
        let i = counter.fetch_add(1, Ordering::SeqCst);
        Ok(StableToken {
            access_token: AccessToken::new(format!("AT-{i}")),
            expires_in: 7200,
        })
    });
    wechat
        .expect_phone_number()
        .times(2)
        .returning(|_, _| Err(WeChatError::AccessTokenInvalid { errcode: 42001 }));
    let service = w.service(wechat);
    let caller = logged_in(&service).await;

    let refused = service.bind_phone_number(&caller, "code").await;

    assert!(matches!(
        refused,
        Err(CoreError::WeChat(WeChatError::AccessTokenInvalid { .. }))
    ));
}

async fn an_exhausted_quota_is_never_retried(w: World) {
    let mut wechat = wechat_logging_in(V1_OPENID, V1_KEY);
    with_token(&mut wechat, "AT");
    wechat
        .expect_phone_number()
        .times(1)
        .returning(|_, _| Err(WeChatError::QuotaExhausted));
    let service = w.service(wechat);
    let caller = logged_in(&service).await;

    let refused = service.bind_phone_number(&caller, "code").await;

    assert!(matches!(
        refused,
        Err(CoreError::WeChat(WeChatError::QuotaExhausted))
    ));
    let user = w
        .store
        .find_user(&caller.user.id)
        .await
        .expect("q")
        .expect("user");
    assert_eq!(user.phone_number, None);
}

async fn two_instances_on_one_database_make_one_fetch(w: World) {
    // A second instance: its own connection pool, its own in-process cache.
    let other_store = Arc::new(
        DieselStore::connect(w.db.url(), &PoolOptions::default(), test_sealer())
            .expect("second pool"),
    );
    let fetches = Arc::new(AtomicUsize::new(0));
    let mock = |fetches: &Arc<AtomicUsize>| {
        let mut wechat = wechat_logging_in(V1_OPENID, V1_KEY);
        let counter = Arc::clone(fetches);
        wechat.expect_stable_token().returning(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok(StableToken {
                access_token: AccessToken::new("AT-shared"),
                expires_in: 7200,
            })
        });
        wechat
            .expect_phone_number()
            .withf(|token, _| token.expose() == "AT-shared")
            .returning(|_, _| Ok(phone("13800138000")));
        wechat
    };
    let a = w.service(mock(&fetches));
    let b = World::service_over(&other_store, &w.clock, mock(&fetches));
    let caller = logged_in(&a).await;

    let (x, y) = futures_util::future::join(
        futures_util::future::join_all((0..5).map(|_| a.bind_phone_number(&caller, "code"))),
        futures_util::future::join_all((0..5).map(|_| b.bind_phone_number(&caller, "code"))),
    )
    .await;

    assert!(x.iter().chain(y.iter()).all(Result::is_ok));
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        1,
        "one fetch for both instances"
    );
    assert_eq!(
        a.access_token_fetches().here + b.access_token_fetches().here,
        1
    );
    let stored = w
        .store
        .load_access_token(V1_APPID)
        .await
        .expect("load")
        .expect("shared row");
    assert_eq!(stored.fetches, 1);
}

async fn login_never_needs_the_access_token(w: World) {
    // No stable_token expectation: fetching one would fail the test.
    let service = w.service(wechat_logging_in(V1_OPENID, V1_KEY));
    logged_in(&service).await;
}

/// WeChat hands out these access tokens, one `stable_token` call each, in this order
/// (`force_refresh`, token).
fn fetches_in_order(wechat: &mut MockWeChatApi, tokens: &[(bool, &'static str)]) {
    let mut fetches = mockall::Sequence::new();
    for &(force, token) in tokens {
        wechat
            .expect_stable_token()
            .with(eq(force))
            .times(1)
            .in_sequence(&mut fetches)
            .returning(move |_| {
                Ok(StableToken {
                    access_token: AccessToken::new(token),
                    expires_in: 7200,
                })
            });
    }
}

/// The phone number call refuses access token `AT-1` (40001) and answers with `AT-2`.
fn refused_with_at_1_served_with_at_2(wechat: &mut MockWeChatApi) {
    wechat
        .expect_phone_number()
        .withf(|token, _| token.expose() == "AT-1")
        .times(1)
        .returning(|_, _| Err(WeChatError::AccessTokenInvalid { errcode: 40001 }));
    wechat
        .expect_phone_number()
        .withf(|token, _| token.expose() == "AT-2")
        .times(1)
        .returning(|_, _| Ok(phone("13800138000")));
}
