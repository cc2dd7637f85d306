//! Any push body (XML or JSON), and any `Encrypt` under a safe-mode key: parsed, decrypted or
//! refused, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wxlogin_wechat_protocol::{PushSettings, parse_push_body};

fuzz_target!(|data: &[u8]| {
    let _ = parse_push_body(data);
    let Ok(settings) =
        PushSettings::new("token", Some("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"))
    else {
        return;
    };
    let text = String::from_utf8_lossy(data);
    let _ = settings.decrypt(&text, "wx4f4bc4dec97d474b");
    let _ = settings.verify_msg_signature(&text, "1", "n", &text);
});
