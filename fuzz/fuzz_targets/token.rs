//! Any text as a login token: verified or refused, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wxlogin_domain::{SystemClock, TokenCodec};
use wxlogin_token::{JwtCodec, TokenConfig};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(issuer) = JwtCodec::new(
        b"fuzz-fuzz-fuzz-fuzz-fuzz-fuzz-fuzz-fuzz",
        TokenConfig::default(),
        SystemClock,
    ) else {
        return;
    };
    let _ = issuer.verify(text);
});
