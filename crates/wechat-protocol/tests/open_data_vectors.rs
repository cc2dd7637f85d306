//! WeChat's own test vectors (V1–V3) and the derived ones (D1–D3) of `shared/wechat-facts.md`.

use wxlogin_domain::SessionKey;
use wxlogin_wechat_protocol::{
    OpenDataError, decrypt_open_data, session_signature, verify_raw_data,
};

const V1_APPID: &str = "wx4f4bc4dec97d474b";
const V1_KEY: &str = "tiihtNczf5v6AKRyjwEUhQ==";
const V1_IV: &str = "r7BXXKkLb8qrSNn05n0qiA==";
const V1_DATA: &str = "CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDcvSnxIMXFufNstNGTyaGS9uT5geRa0W4oTOb1WT7fJlAC+oNPdbB+3hVbJSRgv+4lGOETKUQz6OYStslQ142dNCuabNPGBzlooOmB231qMM85d2/fV6ChevvXvQP8Hkue1poOFtnEtpyxVLW1zAo6/1Xx1COxFvrc2d7UL/lmHInNlxuacJXwu0fjpXfz/YqYzBIBzD6WUfTIF9GRHpOn/Hz7saL8xz+W//FRAUid1OksQaQx4CMs8LOddcQhULW4ucetDf96JcR3g0gfRK4PC7E/r7Z6xNrXd2UIeorGj5Ef7b1pJAYB6Y5anaHqZ9J6nKEBvB4DnNLIVWSgARns/8wR2SiRS7MNACwTyrGvt9ts8p12PKFdlqYTopNHR1Vf7XjfhQlVsAJdNiKdYmYVoKlaRv85IfVunYzO0IKXsyl7JCUjCpoG20f0a04COwfneQAGGwd5oa+T8yO5hzuyDb/XcxxmK01EpqOyuxINew==";
const D3_DATA: &str = "CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDcvSnxIMXFufNstNGTyaGS9uT5geRa0W4oTOb1WT7fJlAC+oNPdbB+3hVbJSRgv+4lGOETKUQz6OYStslQ142dNCuabNPGBzlooOmB231qMM85d2/fV6ChevvXvQP8Hkue1poOFtnEtpyxVLW1zAo6/1Xx1COxFvrc2d7UL/lmHInNlxuacJXwu0fjpXfz/YqYzBIBzD6WUfTIF9GRHpOn/Hz7saL8xz+W//FRAUid1OksQaQx4CMs8LOddcQhULW4ucetDf96JcR3g0gfRK4PC7E/r7Z6xNrXd2UIeorGj5Ef7b1pJAYB6Y5anaHqZ9J6nKEBvB4DnNLIVWSgARns/8wR2SiRS7MNACwTyrGvt9ts8p12PKFdlqYTopNHR1Vf7XjfhQlVsAJdNiKdYmYVoKlaRv85IfVunYzO0IKXsyl7JCUjCpoG20f0a04COweH1Cja0iUAUB6LIi2qmyB8N8OZMxSGs4yvbz5OeSpBug==";

fn key(text: &str) -> SessionKey {
    SessionKey::new(text)
}

#[test]
fn v1_decrypts_to_wechats_plaintext() {
    let data = decrypt_open_data(V1_DATA, V1_IV, &key(V1_KEY), V1_APPID).expect("decrypts");
    assert_eq!(data["openId"], "oGZUI0egBJY1zhBYw2KhdUfwVJJE");
    assert_eq!(data["nickName"], "Band");
    assert_eq!(data["gender"], 1);
    assert_eq!(data["unionId"], "ocMvos6NjeKLIBqg5Mr9QjxrP1FA");
    assert_eq!(data["watermark"]["timestamp"], 1_477_314_187);
}

#[test]
fn v1_survives_line_breaks_and_plus_signs_turned_to_spaces() {
    let mangled = format!(
        "\n  {}\r\n",
        V1_DATA
            .replace('+', " ")
            .as_bytes()
            .chunks(76)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(decrypt_open_data(&mangled, V1_IV, &key(V1_KEY), V1_APPID).is_ok());
}

#[test]
fn d2_the_wrong_session_key_fails_strict_padding() {
    let result = decrypt_open_data(V1_DATA, V1_IV, &key("HyVFkGl5F5OQWJZZaNzBBg=="), V1_APPID);
    assert_eq!(result, Err(OpenDataError::Padding));
}

#[test]
fn d3_another_apps_watermark_is_refused() {
    assert_eq!(
        decrypt_open_data(D3_DATA, V1_IV, &key(V1_KEY), V1_APPID),
        Err(OpenDataError::Watermark)
    );
}

#[test]
fn v1_for_another_appid_is_refused() {
    assert_eq!(
        decrypt_open_data(V1_DATA, V1_IV, &key(V1_KEY), "wx0000000000000000"),
        Err(OpenDataError::Watermark)
    );
}

#[test]
fn lengths_are_checked_before_any_cipher_call() {
    let short_key = key("AAAAAAAAAAAAAAAAAAAA");
    assert_eq!(
        decrypt_open_data(V1_DATA, V1_IV, &short_key, V1_APPID),
        Err(OpenDataError::KeyLength(15))
    );
    assert_eq!(
        decrypt_open_data(V1_DATA, "AAAA", &key(V1_KEY), V1_APPID),
        Err(OpenDataError::IvLength(3))
    );
    assert_eq!(
        decrypt_open_data("", V1_IV, &key(V1_KEY), V1_APPID),
        Err(OpenDataError::CiphertextLength(0))
    );
    assert_eq!(
        decrypt_open_data("AAAAAAAAAAAAAAAAAAAAAAAA", V1_IV, &key(V1_KEY), V1_APPID),
        Err(OpenDataError::CiphertextLength(18))
    );
}

#[test]
fn bad_base64_names_its_field() {
    assert_eq!(
        decrypt_open_data("!!!", V1_IV, &key(V1_KEY), V1_APPID),
        Err(OpenDataError::Base64("encryptedData"))
    );
    assert_eq!(
        decrypt_open_data(V1_DATA, "%%", &key(V1_KEY), V1_APPID),
        Err(OpenDataError::Base64("iv"))
    );
    assert_eq!(
        decrypt_open_data(V1_DATA, V1_IV, &key("é"), V1_APPID),
        Err(OpenDataError::Base64("session_key"))
    );
}

#[test]
fn no_input_panics() {
    // A deterministic sweep of lengths and bytes through every check, the cipher included.
    use base64::Engine;
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    for len in 0..600 {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()[0]
            })
            .collect();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
        let text = String::from_utf8_lossy(&bytes);
        for (data, iv, k) in [
            (b64.as_str(), V1_IV, V1_KEY),
            (V1_DATA, b64.as_str(), V1_KEY),
            (V1_DATA, V1_IV, b64.as_str()),
            (&*text, &*text, &*text),
        ] {
            let _ = decrypt_open_data(data, iv, &key(k), V1_APPID);
        }
    }
}

#[test]
fn v2_raw_data_signature_verifies_and_a_changed_byte_does_not() {
    let raw = r#"{"nickName":"Band","gender":1,"language":"zh_CN","city":"Guangzhou","province":"Guangdong","country":"CN","avatarUrl":"http://wx.qlogo.cn/mmopen/vi_32/1vZvI39NWFQ9XM4LtQpFrQJ1xlgZxx3w7bQxKARol6503Iuswjjn6nIGBiaycAjAtpujxyzYsrztuuICqIM5ibXQ/0"}"#;
    let k = key("HyVFkGl5F5OQWJZZaNzBBg==");
    assert!(verify_raw_data(
        raw,
        "75e81ceda165f4ffa64f4068af58c64b8f54b88c",
        &k
    ));
    assert!(verify_raw_data(
        raw,
        "75E81CEDA165F4FFA64F4068AF58C64B8F54B88C",
        &k
    ));
    assert!(!verify_raw_data(
        &raw.replace("Band", "Bend"),
        "75e81ceda165f4ffa64f4068af58c64b8f54b88c",
        &k
    ));
    assert!(!verify_raw_data(
        raw,
        "75e81ceda165f4ffa64f4068af58c64b8f54b88d",
        &k
    ));
    assert!(!verify_raw_data(raw, "", &k));
    assert!(!verify_raw_data(
        raw,
        "75e81ceda165f4ffa64f4068af58c64b8f54b88c",
        &key(V1_KEY)
    ));
}

#[test]
fn v3_session_signature_matches_wechats_example() {
    assert_eq!(
        session_signature(&key("o0q0otL8aEzpcZL/FT9WsQ=="), br#"{"foo":"bar"}"#),
        "654571f79995b2ce1e149e53c0a33dc39c0a74090db514261454e8dbe432aa0b"
    );
}

#[test]
fn d1_checksession_signature_of_the_empty_string() {
    assert_eq!(
        session_signature(&key(V1_KEY), b""),
        "7154f9f8b4b76b92f541cbf0e37d48840fa06e5e42da92a6f80168a1516a4735"
    );
}
