//! `POST /api/me/userinfo`: the profile filled from verified data, and every altered, foreign,
//! stale or undecryptable variant refused alike, changing nothing.

use serde_json::{Value, json};
use wxlogin_e2e::{TestApp, assert_error};
use wxlogin_fake_wechat::{DEV_APPID, UserData, encrypt_open_data};
use wxlogin_user_store::testing::TestDatabase;

use crate::support::{body, profile};

wxlogin_e2e::on_both_databases!(
    every_undecryptable_variant_gets_the_same_answer,
    user_info_fills_the_profile_and_never_echoes_wechat_ids,
    user_info_mangled_in_transport_still_decrypts,
    altered_or_foreign_user_info_is_refused_and_changes_nothing,
    a_stale_session_key_asks_the_user_to_log_in_again,
);

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
