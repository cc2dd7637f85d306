//! Properties of the open-data functions over generated inputs: no input panics, and what
//! WeChat's scheme encrypts decrypts back exactly.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;
use wxlogin_domain::SessionKey;
use wxlogin_fake_wechat::encrypt_open_data;
use wxlogin_wechat_protocol::{OpenDataError, decrypt_open_data, verify_raw_data};

const APPID: &str = "wx4f4bc4dec97d474b";

fn base64_of(bytes: Vec<u8>) -> String {
    STANDARD.encode(bytes)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Any text in any field: a typed answer, never a panic.
    #[test]
    fn arbitrary_text_never_panics(data in ".{0,200}", iv in ".{0,40}", key in ".{0,40}", appid in ".{0,20}") {
        let _ = decrypt_open_data(&data, &iv, &SessionKey::new(key.clone()), &appid);
        let _ = verify_raw_data(&data, &iv, &SessionKey::new(key));
    }

    /// Well-formed base64 of any length reaches the length checks, and the cipher only with
    /// lengths it accepts: a typed answer, never a panic.
    #[test]
    fn arbitrary_bytes_never_panic(
        data in proptest::collection::vec(any::<u8>(), 0..300),
        iv in proptest::collection::vec(any::<u8>(), 0..40),
        key in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        let (iv_len, key_len, data_len) = (iv.len(), key.len(), data.len());
        let result = decrypt_open_data(
            &base64_of(data),
            &base64_of(iv),
            &SessionKey::new(base64_of(key)),
            APPID,
        );
        match result {
            Err(OpenDataError::KeyLength(n)) => prop_assert_eq!(n, key_len),
            Err(OpenDataError::IvLength(n)) => prop_assert_eq!(n, iv_len),
            Err(OpenDataError::CiphertextLength(n)) => prop_assert_eq!(n, data_len),
            // Decrypted random bytes are almost never a JSON object with our watermark.
            Err(OpenDataError::Padding | OpenDataError::NotJson | OpenDataError::Watermark) => {
                prop_assert!(key_len == 16 && iv_len == 16 && data_len > 0 && data_len % 16 == 0);
            }
            Err(OpenDataError::Base64(field)) => prop_assert!(false, "valid base64 refused: {}", field),
            Ok(_) => {}
        }
    }

    /// Whatever profile WeChat encrypts with our watermark decrypts to exactly that object,
    /// under any key.
    #[test]
    fn encrypted_profiles_decrypt_back(
        key in proptest::collection::vec(any::<u8>(), 16..=16),
        nick in ".{0,80}",
        gender in 0i64..3,
    ) {
        let key = base64_of(key);
        let plain = serde_json::json!({
            "nickName": nick, "gender": gender,
            "watermark": { "appid": APPID, "timestamp": 1 },
        });
        let (data, iv) = encrypt_open_data(&key, plain.to_string().as_bytes());
        let decrypted = decrypt_open_data(&data, &iv, &SessionKey::new(key), APPID);
        prop_assert_eq!(decrypted.map(serde_json::Value::Object), Ok(plain));
    }

    /// A copy mangled in transport — `+` sent as spaces (even at either end), wrapped at any
    /// width, padded with spaces and line breaks — decrypts to what was encrypted.
    #[test]
    fn mangled_copies_decrypt_back(
        key in proptest::collection::vec(any::<u8>(), 16..=16),
        nick in ".{0,80}",
        width in 1usize..100,
        front in "[ \n]{0,3}",
        back in "[ \n]{0,3}",
    ) {
        let key = base64_of(key);
        let plain = serde_json::json!({
            "nickName": nick, "watermark": { "appid": APPID, "timestamp": 1 },
        });
        let (data, iv) = encrypt_open_data(&key, plain.to_string().as_bytes());
        let mangle = |text: &str| {
            let wrapped = text
                .replace('+', " ")
                .as_bytes()
                .chunks(width)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join("\n");
            format!("{front}{wrapped}{back}")
        };
        let decrypted = decrypt_open_data(&mangle(&data), &mangle(&iv), &SessionKey::new(key), APPID);
        prop_assert_eq!(decrypted.map(serde_json::Value::Object), Ok(plain));
    }
}
