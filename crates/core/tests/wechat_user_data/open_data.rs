//! Open data (the user info): verified and stored, or refused when it is another app's or
//! another user's, sealed under a stale key, or tampered with.

use wxlogin_core::CoreError;
use wxlogin_domain::UserStore;
use wxlogin_user_store::testing::TestDatabase;

use crate::support::{
    D3_DATA, V1_DATA, V1_KEY, V1_OPENID, WRONG_KEY, World, logged_in, v1_data, wechat_logging_in,
    with_token,
};

on_both_databases!(
    verified_user_info_updates_the_profile,
    another_apps_data_is_refused_without_asking_wechat,
    another_users_data_is_refused,
    a_stale_session_key_asks_for_a_new_login_and_ends_the_session,
    tampered_data_under_a_current_key_is_refused_as_such,
);

async fn verified_user_info_updates_the_profile(w: World) {
    let service = w.service(wechat_logging_in(V1_OPENID, V1_KEY));
    let caller = logged_in(&service).await;

    let user = service
        .apply_user_info(&caller, v1_data(V1_KEY, V1_DATA))
        .await
        .expect("V1 decrypts");

    assert_eq!(user.nick_name.as_deref(), Some("Band"));
    assert_eq!(user.gender, Some(1));
    assert!(
        user.avatar_url
            .as_deref()
            .is_some_and(|a| a.starts_with("http://wx.qlogo.cn/"))
    );
    assert_eq!(
        w.store.find_user(&user.id).await.expect("query"),
        Some(user)
    );
}

async fn another_apps_data_is_refused_without_asking_wechat(w: World) {
    // No stable_token or check_session expectation: calling either fails the test.
    let service = w.service(wechat_logging_in(V1_OPENID, V1_KEY));
    let caller = logged_in(&service).await;

    let refused = service
        .apply_user_info(&caller, v1_data(V1_KEY, D3_DATA))
        .await;

    assert!(
        matches!(refused, Err(CoreError::DecryptFailed(_))),
        "{refused:?}"
    );
}

async fn another_users_data_is_refused(w: World) {
    let service = w.service(wechat_logging_in("oSomeoneElse", V1_KEY));
    let caller = logged_in(&service).await;

    let refused = service
        .apply_user_info(&caller, v1_data(V1_KEY, V1_DATA))
        .await;

    assert!(
        matches!(&refused, Err(CoreError::DecryptFailed(why)) if why.to_string() == wxlogin_core::NOT_THIS_USERS_DATA),
        "{refused:?}"
    );
    let user = w
        .store
        .find_user(&caller.user.id)
        .await
        .expect("q")
        .expect("user");
    assert_eq!(user.nick_name, None, "nothing stored");
}

async fn a_stale_session_key_asks_for_a_new_login_and_ends_the_session(w: World) {
    let mut wechat = wechat_logging_in(V1_OPENID, WRONG_KEY);
    with_token(&mut wechat, "AT");
    wechat
        .expect_check_session()
        .withf(|token, openid, key| {
            token.expose() == "AT" && openid.expose() == V1_OPENID && key.expose() == WRONG_KEY
        })
        .times(1)
        .returning(|_, _, _| Ok(false));
    let service = w.service(wechat);
    let login = service.login(None, "code").await.expect("login");
    let caller = service.authenticate(&login.token).await.expect("caller");

    let refused = service
        .apply_user_info(&caller, v1_data(WRONG_KEY, V1_DATA))
        .await;

    assert!(
        matches!(refused, Err(CoreError::SessionKeyStale)),
        "{refused:?}"
    );
    assert!(matches!(
        service.authenticate(&login.token).await,
        Err(CoreError::TokenExpired)
    ));
}

async fn tampered_data_under_a_current_key_is_refused_as_such(w: World) {
    let mut wechat = wechat_logging_in(V1_OPENID, WRONG_KEY);
    with_token(&mut wechat, "AT");
    // Asked once: its verdict on the session's key is remembered for the refusals after, so
    // altered data sent in a loop does not spend the app's quota.
    wechat
        .expect_check_session()
        .times(1)
        .returning(|_, _, _| Ok(true));
    let service = w.service(wechat);
    let login = service.login(None, "code").await.expect("login");
    let caller = service.authenticate(&login.token).await.expect("caller");

    let bad_padding = service
        .apply_user_info(&caller, v1_data(WRONG_KEY, V1_DATA))
        .await;
    assert!(
        matches!(bad_padding, Err(CoreError::DecryptFailed(_))),
        "{bad_padding:?}"
    );

    let mut bad_signature = v1_data(WRONG_KEY, V1_DATA);
    bad_signature.raw_data = r#"{"nickName":"Mallory","gender":1}"#.into();
    let refused = service.apply_user_info(&caller, bad_signature).await;
    assert!(
        matches!(refused, Err(CoreError::InvalidSignature)),
        "{refused:?}"
    );
    for _ in 0..3 {
        let mut again = v1_data(WRONG_KEY, V1_DATA);
        again.raw_data = r#"{"nickName":"Mallory","gender":1}"#.into();
        assert!(matches!(
            service.apply_user_info(&caller, again).await,
            Err(CoreError::InvalidSignature)
        ));
    }
    assert!(
        service.authenticate(&login.token).await.is_ok(),
        "a current key leaves the session alone"
    );
}
