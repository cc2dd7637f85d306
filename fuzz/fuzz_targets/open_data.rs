//! Any encryptedData, iv, session_key, appid, rawData and signature: a typed answer, never a
//! panic (the fields are split out of the input at NUL bytes).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wxlogin_domain::SessionKey;
use wxlogin_wechat_protocol::{decrypt_open_data, verify_raw_data};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut fields = text.split('\0');
    let encrypted = fields.next().unwrap_or_default();
    let iv = fields.next().unwrap_or_default();
    let key = SessionKey::new(fields.next().unwrap_or("tiihtNczf5v6AKRyjwEUhQ=="));
    let appid = fields.next().unwrap_or("wx4f4bc4dec97d474b");
    let _ = decrypt_open_data(encrypted, iv, &key, appid);
    let _ = verify_raw_data(encrypted, iv, &key);
});
