//! Phone numbers: a phone code stores the number.

use wxlogin_user_store::testing::TestDatabase;

use crate::support::{V1_KEY, V1_OPENID, World, logged_in, phone, wechat_logging_in, with_token};

on_both_databases!(a_phone_code_stores_the_number,);

async fn a_phone_code_stores_the_number(w: World) {
    let mut wechat = wechat_logging_in(V1_OPENID, V1_KEY);
    with_token(&mut wechat, "AT");
    wechat
        .expect_phone_number()
        .withf(|token, code| token.expose() == "AT" && code == "phone-code")
        .times(1)
        .returning(|_, _| Ok(phone("13800138000")));
    let service = w.service(wechat);
    let caller = logged_in(&service).await;

    let user = service
        .bind_phone_number(&caller, "phone-code")
        .await
        .expect("bound");

    assert_eq!(user.phone_number.as_deref(), Some("13800138000"));
    assert_eq!(service.access_token_fetches().here, 1);
}
