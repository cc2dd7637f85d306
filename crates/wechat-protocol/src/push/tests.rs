//! Tests of the parent module, kept apart so that it reads as what it does.

use super::*;

/// The derived safe-mode vector of the WeChat facts.
const TOKEN: &str = "pamtest";
const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const APPID: &str = "wx4f4bc4dec97d474b";
const TIMESTAMP: &str = "1796188000";
const NONCE: &str = "1320562132";
const MESSAGE: &str = r#"{"ToUserName":"gh_870882ca4b1","FromUserName":"oaKk346BaWE-eIn4oSRWbaM9vR7s","CreateTime":1796188000,"MsgType":"event","Event":"user_authorization_cancellation","OpenID":"o-push1","AppID":"wx4f4bc4dec97d474b"}"#;
const ENCRYPT: &str = "Q3stYC6hdFzMh9T8HCvyDG8ro7Krd28HJvmk52M5Skda6HkHypaQ26zH45suHNZamPyxQPZWx/Y8xBNuEk0T/EFrRlY4SLljbNe8ViNB6DdS5UJD1JkjaTNjWnkf3mvlc+PY0WcG0ImuAajROKBuRlfa56Oo/8T+js1l9tISUgc7323RIUQQaSD+HXtxziNxJthxM9j0pdRMflGd7VWfMO9hBIBDJSzq67S9W47gL9I6VUmPb/TdPgacQFDJvUiEbnEhzVzrcNKgbKgqTby8JjgZ+44isgooJs99gu2CeJbsoAoV/Z3pu6sqV6MuBfhvHb10PEHnaKVoHdmRJBQSYA==";

fn settings() -> PushSettings {
    PushSettings::new(TOKEN, Some(KEY)).expect("valid settings")
}

#[test]
fn the_derived_vector_encrypts_signs_and_decrypts_as_given() {
    let s = settings();
    assert_eq!(
        s.encrypt(*b"0123456789abcdef", MESSAGE, APPID).as_deref(),
        Some(ENCRYPT)
    );
    assert_eq!(
        s.msg_signature(TIMESTAMP, NONCE, ENCRYPT),
        "b76c73c03d8ed2f00a5e31c20e2682e3b03e6dab"
    );
    assert_eq!(
        s.signature(TIMESTAMP, NONCE),
        "eecc0832af486f9376bf698259bb91bb19363ab3"
    );
    assert!(s.verify_msg_signature(
        "B76C73C03D8ED2F00A5E31C20E2682E3B03E6DAB",
        TIMESTAMP,
        NONCE,
        ENCRYPT
    ));
    assert_eq!(s.decrypt(ENCRYPT, APPID).as_deref(), Ok(MESSAGE));
}

#[test]
fn another_apps_ciphertext_and_altered_ones_are_refused() {
    let s = settings();
    assert_eq!(s.decrypt(ENCRYPT, "wxanother"), Err(PushError::OtherApp));
    let mut altered = ENCRYPT.to_owned().into_bytes();
    altered[10] = if altered[10] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).expect("ascii");
    assert!(s.decrypt(&altered, APPID).is_err());
    assert!(!s.verify_signature("eecc0832af486f9376bf698259bb91bb19363ab4", TIMESTAMP, NONCE));
    let plain_only = PushSettings::new(TOKEN, None).expect("valid");
    assert_eq!(plain_only.decrypt(ENCRYPT, APPID), Err(PushError::Decrypt));
}

#[test]
fn settings_are_checked_and_hidden() {
    assert_eq!(PushSettings::new("ab", None), Err(PushError::BadToken));
    assert_eq!(PushSettings::new("tok en", None), Err(PushError::BadToken));
    assert_eq!(
        PushSettings::new(TOKEN, Some(&KEY[..42])),
        Err(PushError::BadAesKey)
    );
    assert!(!format!("{:?}", settings()).contains(TOKEN));
}
