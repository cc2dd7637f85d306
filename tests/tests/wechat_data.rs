//! The WeChat user data routes (`/api/me/userinfo`, `/api/me/phone`), idempotent login codes and
//! the shared access token, over real HTTP against the fake WeChat, on SQLite and PostgreSQL.

use serde_json::{Value, json};
use wxlogin_e2e::{Spawn, TestApp, assert_error};
use wxlogin_fake_wechat::{DEV_APPID, UserData, encrypt_open_data};
use wxlogin_user_store::testing::TestDatabase;

fn profile() -> Value {
    json!({
        "nickName": "伊万 🐻",
        "avatarUrl": "https://thirdwx.qlogo.cn/mmopen/vi_32/x/132",
        "gender": 1,
        "language": "zh_CN",
    })
}

/// The body a front end posts: what `wx.getUserInfo` resolved with, extra fields included.
fn body(data: &UserData) -> Value {
    json!({
        "rawData": data.raw_data,
        "signature": data.signature,
        "encryptedData": data.encrypted_data,
        "iv": data.iv,
        "userInfo": serde_json::from_str::<Value>(&data.raw_data).unwrap_or(Value::Null),
        "errMsg": "getUserInfo:ok",
    })
}

async fn user_info_fills_the_profile_and_never_echoes_wechat_ids(db: &TestDatabase) {
    let app = TestApp::spawn(db.url()).await;
    let token = app.token("ivan.1").await;
    let data = app.fake.user_data("ivan.1", &profile());

    let reply = app.post("/api/me/userinfo", &token, &body(&data)).await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json["nickName"], "伊万 🐻");
    assert_eq!(
        reply.json["avatarUrl"],
        "https://thirdwx.qlogo.cn/mmopen/vi_32/x/132"
    );
    assert_eq!(reply.json["gender"], 1);
    assert!(
        !reply.text.contains(&app.fake.openid_for("ivan")),
        "{}",
        reply.text
    );
    assert!(!reply.text.contains("openId") && !reply.text.contains("watermark"));
    assert_eq!(app.me(&token).await.json, reply.json, "stored");
    assert_eq!(
        app.fake.check_session_calls(),
        0,
        "valid data needs no check"
    );
    app.stop().await;
}

async fn user_info_mangled_in_transport_still_decrypts(db: &TestDatabase) {
    let app = TestApp::spawn(db.url()).await;
    let token = app.token("olga.1").await;
    let data = app.fake.user_data("olga.1", &profile());
    let mut mangled = body(&data);
    // Line-wrapped, padded, and with `+` turned into spaces by form encoding.
    let wrapped: String = data
        .encrypted_data
        .as_bytes()
        .chunks(64)
        .map(|c| String::from_utf8_lossy(c).replace('+', " "))
        .collect::<Vec<_>>()
        .join("\n");
    mangled["encryptedData"] = format!("  {wrapped}\n").into();

    let reply = app.post("/api/me/userinfo", &token, &mangled).await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    app.stop().await;
}

async fn altered_or_foreign_user_info_is_refused_and_changes_nothing(db: &TestDatabase) {
    let app = TestApp::spawn(db.url()).await;
    let token = app.token("ivan.1").await;
    let data = app.fake.user_data("ivan.1", &profile());
    let key = app.fake.session_key_for("ivan.1");

    let mut altered_raw = body(&data);
    altered_raw["rawData"] = r#"{"nickName":"Mallory"}"#.into();
    assert_error(
        &app.post("/api/me/userinfo", &token, &altered_raw).await,
        400,
        "invalid_signature",
    );

    let other_app = json!({
        "nickName": "x", "openId": app.fake.openid_for("ivan"),
        "watermark": { "appid": "wx0000000000000000", "timestamp": 1 }
    });
    let (encrypted, iv) = encrypt_open_data(&key, other_app.to_string().as_bytes());
    let mut foreign = body(&data);
    foreign["encryptedData"] = encrypted.into();
    foreign["iv"] = iv.into();
    assert_error(
        &app.post("/api/me/userinfo", &token, &foreign).await,
        400,
        "decrypt_failed",
    );

    let someone_else = json!({
        "nickName": "x", "openId": app.fake.openid_for("zoe"),
        "watermark": { "appid": DEV_APPID, "timestamp": 1 }
    });
    let (encrypted, iv) = encrypt_open_data(&key, someone_else.to_string().as_bytes());
    let mut not_mine = body(&data);
    not_mine["encryptedData"] = encrypted.into();
    not_mine["iv"] = iv.into();
    assert_error(
        &app.post("/api/me/userinfo", &token, &not_mine).await,
        400,
        "decrypt_failed",
    );

    // Another user's data, under their key: it does not decrypt with ours.
    let zoes = app.fake.user_data("zoe.1", &profile());
    let mut under_other_key = body(&data);
    under_other_key["encryptedData"] = zoes.encrypted_data.into();
    under_other_key["iv"] = zoes.iv.into();
    assert_error(
        &app.post("/api/me/userinfo", &token, &under_other_key).await,
        400,
        "decrypt_failed",
    );

    for (field, value) in [
        ("encryptedData", "not base64!"),
        ("encryptedData", "AAAA"),
        ("iv", "AAAA"),
    ] {
        let mut broken = body(&data);
        broken[field] = value.into();
        assert_error(
            &app.post("/api/me/userinfo", &token, &broken).await,
            400,
            "decrypt_failed",
        );
    }
    for missing in ["rawData", "signature", "encryptedData", "iv"] {
        let mut partial = body(&data);
        partial
            .as_object_mut()
            .map(|o| o.remove(missing))
            .expect("object");
        assert_error(
            &app.post("/api/me/userinfo", &token, &partial).await,
            400,
            "invalid_request",
        );
    }
    assert_error(
        &app.request(
            "POST",
            "/api/me/userinfo",
            None,
            Some(&body(&data).to_string()),
        )
        .await,
        401,
        "not_logged_in",
    );

    let me = app.me(&token).await;
    assert_eq!(me.json["nickName"], Value::Null, "nothing was stored");
    assert_eq!(
        app.fake.check_session_calls(),
        1,
        "WeChat was asked whether the key was stale before calling the data altered, once: its \
         verdict on the session is remembered for the refusals after"
    );
    assert_eq!(me.status, 200, "the session survives altered data");
    app.stop().await;
}

async fn a_stale_session_key_asks_the_user_to_log_in_again(db: &TestDatabase) {
    let app = TestApp::spawn(db.url()).await;
    let token = app.token("judy.1").await;
    // The user logged in elsewhere: WeChat now encrypts with a key we never saw.
    app.fake.log_in_elsewhere("judy.9");
    let data = app.fake.user_data("judy.9", &profile());

    assert_error(
        &app.post("/api/me/userinfo", &token, &body(&data)).await,
        401,
        "token_expired",
    );
    assert_error(&app.me(&token).await, 401, "token_expired");

    let fresh = app.token("judy.10").await;
    let data = app.fake.user_data("judy.10", &profile());
    let reply = app.post("/api/me/userinfo", &fresh, &body(&data)).await;
    assert_eq!(reply.status, 200, "after logging in again: {}", reply.text);
    app.stop().await;
}

async fn phone_numbers_are_bound_from_getphonenumber_codes(db: &TestDatabase) {
    let app = TestApp::spawn(db.url()).await;
    let token = app.token("pat.1").await;

    let reply = app
        .post("/api/me/phone", &token, &json!({ "code": "13800138000" }))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json["phoneNumber"], "13800138000");
    assert_eq!(app.me(&token).await.json["phoneNumber"], "13800138000");

    // Outside mainland China WeChat sends countryCode as a number.
    let abroad = app
        .post("/api/me/phone", &token, &json!({ "code": "+852.61234567" }))
        .await;
    assert_eq!(abroad.status, 200, "{}", abroad.text);
    assert_eq!(abroad.json["phoneNumber"], "+85261234567");

    assert_error(
        &app.post("/api/me/phone", &token, &json!({ "code": "13800138000" }))
            .await,
        400,
        "invalid_code",
    );
    assert_error(
        &app.post("/api/me/phone", &token, &json!({ "code": "quota" }))
            .await,
        503,
        "wechat_unavailable",
    );
    assert_error(
        &app.post("/api/me/phone", &token, &json!({ "code": "" }))
            .await,
        400,
        "invalid_code",
    );
    assert_error(
        &app.post("/api/me/phone", &token, &json!({})).await,
        400,
        "invalid_request",
    );
    assert_error(
        &app.request("POST", "/api/me/phone", None, Some(r#"{"code":"1"}"#))
            .await,
        401,
        "not_logged_in",
    );
    assert_eq!(
        app.me(&token).await.json["phoneNumber"],
        "+85261234567",
        "failed calls change nothing"
    );
    assert_eq!(
        app.fake.stable_token_calls(),
        1,
        "one access token served every call"
    );
    app.stop().await;
}

async fn a_token_rotated_mid_flight_is_replaced_once(db: &TestDatabase) {
    let app = TestApp::spawn(db.url()).await;
    let token = app.token("quinn.1").await;
    assert_eq!(
        app.post("/api/me/phone", &token, &json!({ "code": "13800000001" }))
            .await
            .status,
        200
    );
    app.fake.rotate_access_token();

    let reply = app
        .post("/api/me/phone", &token, &json!({ "code": "13800000002" }))
        .await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json["phoneNumber"], "13800000002");
    assert_eq!(app.fake.stable_token_calls(), 2);
    let ready = app.request("GET", "/readyz", None, None).await;
    assert_eq!(ready.json, json!({ "status": "ready" }), "and nothing more");
    app.stop().await;
}

async fn a_code_submitted_twice_gets_the_first_answer(db: &TestDatabase) {
    let app = TestApp::spawn(db.url()).await;

    let replies = futures_util::future::join_all((0..5).map(|_| app.login("nina.1"))).await;
    let again = app.login("nina.1").await;

    let first = &replies[0];
    for reply in replies.iter().chain([&again]) {
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(reply.json["userInfo"]["id"], first.json["userInfo"]["id"]);
        assert_eq!(reply.json["expiresAt"], first.json["expiresAt"]);
        assert_eq!(reply.json["userExist"], false, "the first answer");
        let token = reply.json["token"].as_str().expect("token");
        assert_eq!(app.me(token).await.status, 200);
    }
    assert_eq!(app.fake.code2session_calls(), 1, "one upstream call");
    assert_eq!(
        app.fake.stable_token_calls(),
        0,
        "login needs no access token"
    );
    // A copy of the code is no way back into a session that ended.
    let token = again.json["token"].as_str().expect("token");
    assert_eq!(app.logout(token).await.status, 204);
    assert_error(&app.login("nina.1").await, 400, "invalid_code");
    app.stop().await;
}

async fn a_code_is_replayed_only_within_code_replay_secs(db: &TestDatabase) {
    let app = TestApp::spawn_env(db.url(), &[("CODE_REPLAY_SECS", "0")]).await;
    assert_eq!(app.login("omar.1").await.status, 200);
    // With a window of 0 s, a copy a second later is sent to WeChat, which refuses a used code.
    actix_web::rt::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_error(&app.login("omar.1").await, 400, "invalid_code");
    assert_eq!(app.fake.code2session_calls(), 2);
    app.stop().await;
}

/// A copy of a code that reaches another instance of the deployment gets the first answer
/// there too, while its session lives; never once it has ended.
async fn a_copy_of_a_code_at_another_instance_gets_the_first_answer(db: &TestDatabase) {
    let a = TestApp::spawn(db.url()).await;
    let b = a.another_instance(db.url(), &[]).await;
    let first = a.login("nadia.1").await;
    assert_eq!(first.status, 200, "{}", first.text);
    let copy = b.login("nadia.1").await;
    assert_eq!(copy.status, 200, "{}", copy.text);
    assert_eq!(copy.json["userExist"], first.json["userExist"]);
    assert_eq!(copy.json["userInfo"]["id"], first.json["userInfo"]["id"]);
    assert_eq!(copy.json["expiresAt"], first.json["expiresAt"]);
    let copied = copy.json["token"].as_str().expect("token");
    assert_eq!(
        a.me(copied).await.status,
        200,
        "the same session, on either instance"
    );

    let token = first.json["token"].as_str().expect("token");
    assert_eq!(a.logout(token).await.status, 204);
    assert_error(&b.login("nadia.1").await, 400, "invalid_code");
    b.stop().await;
    a.stop().await;
}

/// Flipping the last byte of the next-to-last ciphertext block changes the last byte of the
/// plaintext: one flip in a hundred keeps a valid padding (and then the JSON breaks), the rest
/// break the padding. Were the two answered apart, a caller could decrypt byte by byte (a
/// padding oracle). Flipping a byte of the iv changes the first block into other valid JSON
/// (CBC is malleable): refused too, and alike.
async fn every_undecryptable_variant_gets_the_same_answer(db: &TestDatabase) {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    let app = TestApp::spawn(db.url()).await;
    let token = app.token("oracle.1").await;
    let data = app.fake.user_data("oracle.1", &profile());
    let iv = STANDARD.decode(&data.iv).expect("iv");
    let sealed = STANDARD.decode(&data.encrypted_data).expect("data");
    assert!(sealed.len() >= 32, "at least two blocks");
    let flip = sealed.len() - 17;
    let mut answers = std::collections::BTreeSet::new();
    for byte in (0..=255u8).filter(|b| *b != sealed[flip]) {
        let mut altered = sealed.clone();
        altered[flip] = byte;
        let variant = UserData {
            encrypted_data: STANDARD.encode(&altered),
            ..data.clone()
        };
        let reply = app.post("/api/me/userinfo", &token, &body(&variant)).await;
        answers.insert((reply.status, reply.text));
    }
    for byte in (0..=255u8).step_by(17).filter(|b| *b != iv[15]) {
        let mut altered = iv.clone();
        altered[15] = byte;
        let variant = UserData {
            iv: STANDARD.encode(&altered),
            ..data.clone()
        };
        let reply = app.post("/api/me/userinfo", &token, &body(&variant)).await;
        answers.insert((reply.status, reply.text));
    }
    assert_eq!(answers.len(), 1, "{answers:#?}");
    let (status, text) = answers.into_iter().next().expect("one answer");
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("decrypt_failed"), "{text}");
    app.stop().await;
}

async fn user_data_calls_past_the_accounts_limit_are_refused_without_asking_wechat(
    db: &TestDatabase,
) {
    let app = TestApp::spawn_env(db.url(), &[("USER_RATE_LIMIT", "2")]).await;
    let token = app.token("limited.1").await;
    let other = app.token("unlimited.1").await;
    for i in 0..2 {
        let reply = app
            .post(
                "/api/me/phone",
                &token,
                &json!({ "code": format!("1380013800{i}") }),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    let calls = app.fake.phone_number_calls();
    let refused = app
        .post("/api/me/phone", &token, &json!({ "code": "13800138009" }))
        .await;
    assert_error(&refused, 429, "rate_limited");
    let data = app.fake.user_data("limited.1", &profile());
    assert_error(
        &app.post("/api/me/userinfo", &token, &body(&data)).await,
        429,
        "rate_limited",
    );
    assert_eq!(app.fake.phone_number_calls(), calls, "WeChat was not asked");
    let reply = app
        .post("/api/me/phone", &other, &json!({ "code": "13900139000" }))
        .await;
    assert_eq!(
        reply.status, 200,
        "another account has its own limit: {}",
        reply.text
    );
    app.stop().await;
}

wxlogin_e2e::on_both_databases!(
    a_code_is_replayed_only_within_code_replay_secs,
    user_data_calls_past_the_accounts_limit_are_refused_without_asking_wechat,
    every_undecryptable_variant_gets_the_same_answer,
    user_info_fills_the_profile_and_never_echoes_wechat_ids,
    user_info_mangled_in_transport_still_decrypts,
    altered_or_foreign_user_info_is_refused_and_changes_nothing,
    a_stale_session_key_asks_the_user_to_log_in_again,
    phone_numbers_are_bound_from_getphonenumber_codes,
    a_token_rotated_mid_flight_is_replaced_once,
    a_code_submitted_twice_gets_the_first_answer,
    a_copy_of_a_code_at_another_instance_gets_the_first_answer,
);

#[actix_rt::test]
async fn two_instances_on_one_postgres_fetch_one_access_token() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    let a = TestApp::spawn(db.url()).await;
    let b = TestApp::spawn_with(Spawn {
        database_url: db.url(),
        env: &[],
        fake: Some(a.shared_fake()),
        apps: 1,
    })
    .await;
    let token = a.token("rita.1").await;

    let calls = (0..6).map(|i| {
        let app = if i % 2 == 0 { &a } else { &b };
        let code = format!("1390000000{i}");
        let token = token.clone();
        async move {
            app.post("/api/me/phone", &token, &json!({ "code": code }))
                .await
        }
    });
    let replies = futures_util::future::join_all(calls).await;

    for reply in &replies {
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    assert_eq!(
        a.fake.stable_token_calls(),
        1,
        "one fetch for both instances"
    );
    a.stop().await;
    b.stop().await;
}
