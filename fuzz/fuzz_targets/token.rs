//! Any text as a login token, an access token of either kind or a refresh token: verified or
//! refused, never a panic.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use wxlogin_domain::{SystemClock, TokenCodec};
use wxlogin_token::{
    JwtCodec, KeyPolicy, KeyRing, SignedTokens, SigningAlgorithm, TokenConfig,
};

const SECRET: &[u8] = b"fuzz-fuzz-fuzz-fuzz-fuzz-fuzz-fuzz-fuzz";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(issuer) = JwtCodec::new(SECRET, TokenConfig::default(), SystemClock) {
        let _ = issuer.verify(text);
        let _ = issuer.verify_refresh(text);
    }
    // An empty ring: every asymmetric header is parsed, its key looked for, and refused.
    let ring = Arc::new(KeyRing::new(KeyPolicy {
        algorithm: SigningAlgorithm::EdDsa,
        rotation_secs: 86_400,
        token_lifetime_secs: 7200,
        make_keys: true,
    }));
    if let Ok(signed) = SignedTokens::new(ring, SECRET, 0, TokenConfig::default(), SystemClock) {
        let _ = signed.verify(text);
    }
});
