//! Message push under generated input: nothing panics, and what is encrypted decrypts back.

use proptest::prelude::*;
use wxlogin_wechat_protocol::{MediaCheckResult, PushSettings, parse_push_body};

const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

fn settings() -> PushSettings {
    PushSettings::new("pamtest", Some(KEY)).expect("valid settings")
}

proptest! {
    #[test]
    fn any_encrypt_text_is_refused_or_read_without_panicking(text in ".{0,300}") {
        let _ = settings().decrypt(&text, "wx4f4bc4dec97d474b");
    }

    #[test]
    fn any_base64_of_any_length_is_refused_or_read_without_panicking(
        bytes in proptest::collection::vec(any::<u8>(), 0..200)
    ) {
        use base64::Engine;
        let text = base64::engine::general_purpose::STANDARD.encode(bytes);
        let _ = settings().decrypt(&text, "wx4f4bc4dec97d474b");
    }

    #[test]
    fn any_body_is_refused_or_read_without_panicking(
        bytes in proptest::collection::vec(any::<u8>(), 0..400)
    ) {
        let _ = parse_push_body(&bytes);
    }

    #[test]
    fn xml_like_text_is_refused_or_read_without_panicking(text in "<[a-zA-Z/!\\[\\]<>&;#0-9 ]{0,120}") {
        let _ = parse_push_body(text.as_bytes());
    }

    #[test]
    fn any_nested_media_check_push_is_read_or_ignored_without_panicking(
        xml in "<xml><Event>wxa_media_check</Event><trace_id>t</trace_id>[<>a-z_/.0-9 -]{0,120}</xml>",
        suggest in "[a-zA-Z ]{0,8}",
        label in "-?[0-9a-z]{0,20}",
    ) {
        if let Ok(fields) = parse_push_body(xml.as_bytes()) {
            let _ = MediaCheckResult::from_fields(&fields);
        }
        let json = serde_json::json!({
            "Event": "wxa_media_check", "trace_id": "t",
            "result": {"suggest": suggest, "label": label}, "status_code": label,
        });
        let fields = parse_push_body(json.to_string().as_bytes()).expect("a JSON object");
        let _ = MediaCheckResult::from_fields(&fields);
    }

    #[test]
    fn what_is_encrypted_decrypts_back_for_its_app_only(
        random in any::<[u8; 16]>(),
        message in "\\PC{0,300}",
        appid in "wx[0-9a-f]{16}",
    ) {
        let s = settings();
        let sealed = s.encrypt(random, &message, &appid).expect("a key is set");
        prop_assert_eq!(s.decrypt(&sealed, &appid), Ok(message));
        prop_assert!(s.decrypt(&sealed, "wxsomeoneelse000").is_err());
    }

    #[test]
    fn a_signature_verifies_for_its_timestamp_and_nonce_only(
        timestamp in "[0-9]{10}",
        nonce in "[0-9]{1,12}",
    ) {
        let s = settings();
        let signature = s.signature(&timestamp, &nonce);
        let later = format!("{timestamp}1");
        prop_assert!(s.verify_signature(&signature, &timestamp, &nonce));
        prop_assert!(!s.verify_signature(&signature, &later, &nonce));
        let other = PushSettings::new("anothertoken", None).expect("valid");
        prop_assert!(!other.verify_signature(&signature, &timestamp, &nonce));
    }
}
