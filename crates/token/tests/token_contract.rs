//! The token contract: what verifies, what is expired, what is invalid.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use wxlogin_domain::{Clock, ManualClock, SessionToken, TokenCodec, TokenError};
use wxlogin_token::{JwtCodec, TokenConfig};

const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";
const NOW: i64 = 1_800_000_000;

fn issuer() -> (JwtCodec<Arc<ManualClock>>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(NOW));
    let issuer =
        JwtCodec::new(KEY, TokenConfig::default(), clock.clone()).expect("key is long enough");
    (issuer, clock)
}

fn session(expires_in: i64) -> SessionToken {
    SessionToken {
        user_id: "user-7".into(),
        session_id: "session-42".into(),
        appid: "wx-app".into(),
        expires_at: NOW + expires_in,
    }
}

fn parts(token: &str) -> Vec<String> {
    token.split('.').map(str::to_owned).collect()
}

fn decode(part: &str) -> serde_json::Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("json")
}

fn encode(value: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).expect("json"))
}

#[test]
fn a_fresh_token_verifies_and_says_who_and_which_session() {
    let (issuer, _) = issuer();
    let token = issuer.issue(&session(600)).expect("issue");
    assert_eq!(issuer.verify(&token), Ok(session(600)));
}

#[test]
fn the_payload_carries_only_public_claims() {
    let (issuer, _) = issuer();
    let token = issuer.issue(&session(600)).expect("issue");
    let header = decode(&parts(&token)[0]);
    let payload = decode(&parts(&token)[1]);
    assert_eq!(header["alg"], "HS256");
    assert_eq!(header["typ"], "at+jwt");
    let mut keys: Vec<&str> = payload
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["appid", "aud", "exp", "iat", "iss", "nbf", "sid", "sub"]
    );
    assert_eq!(payload["exp"], NOW + 600);
    assert_eq!(payload["sub"], "user-7");
}

#[test]
fn a_token_is_valid_up_to_its_expiry_second_and_expired_one_second_later() {
    let (issuer, clock) = issuer();
    let token = issuer.issue(&session(60)).expect("issue");
    clock.set(NOW + 60);
    assert!(issuer.verify(&token).is_ok());
    clock.set(NOW + 61);
    assert_eq!(issuer.verify(&token), Err(TokenError::Expired));
}

#[test]
fn there_is_no_clock_tolerance_after_expiry() {
    // jwt-simple forgives 15 minutes by default; the contract forgives nothing.
    let (issuer, clock) = issuer();
    let token = issuer.issue(&session(60)).expect("issue");
    clock.advance(60 + 2);
    assert_eq!(issuer.verify(&token), Err(TokenError::Expired));
}

#[test]
fn a_token_from_an_instance_whose_clock_is_ahead_is_accepted_within_the_skew() {
    let ahead = Arc::new(ManualClock::new(NOW + 2));
    let there = JwtCodec::new(KEY, TokenConfig::default(), Arc::clone(&ahead)).expect("key");
    let (here, _clock) = issuer();
    let token = there.issue(&session(60)).expect("issue");
    assert!(here.verify(&token).is_ok(), "iat and nbf 2 s in the future");
    ahead.set(NOW + 61);
    let far_ahead = there.issue(&session(600)).expect("issue");
    assert!(
        matches!(here.verify(&far_ahead), Err(TokenError::Invalid(_))),
        "issued over a minute in this clock's future: refused"
    );
}

#[test]
fn a_key_shorter_than_32_bytes_is_refused() {
    let err = JwtCodec::new(&KEY[..31], TokenConfig::default(), ManualClock::new(NOW))
        .expect_err("short key");
    assert_eq!(
        err,
        TokenError::KeyTooShort {
            actual: 31,
            required: 32
        }
    );
    assert!(JwtCodec::new(KEY, TokenConfig::default(), ManualClock::new(NOW)).is_ok());
}

#[test]
fn a_tampered_payload_is_invalid() {
    let (issuer, _) = issuer();
    let token = issuer.issue(&session(600)).expect("issue");
    let p = parts(&token);
    let mut payload = decode(&p[1]);
    payload["sub"] = "someone-else".into();
    let forged = format!("{}.{}.{}", p[0], encode(&payload), p[2]);
    assert!(matches!(
        issuer.verify(&forged),
        Err(TokenError::Invalid(_))
    ));
}

#[test]
fn an_extended_expiry_is_invalid_not_honoured() {
    let (issuer, clock) = issuer();
    let token = issuer.issue(&session(60)).expect("issue");
    let p = parts(&token);
    let mut payload = decode(&p[1]);
    payload["exp"] = (NOW + 10_000).into();
    let forged = format!("{}.{}.{}", p[0], encode(&payload), p[2]);
    clock.advance(120);
    assert!(matches!(
        issuer.verify(&forged),
        Err(TokenError::Invalid(_))
    ));
}

#[test]
fn a_tampered_signature_is_invalid() {
    let (issuer, _) = issuer();
    let token = issuer.issue(&session(600)).expect("issue");
    let p = parts(&token);
    let mut sig = URL_SAFE_NO_PAD.decode(&p[2]).expect("base64url");
    sig[0] ^= 1;
    let forged = format!("{}.{}.{}", p[0], p[1], URL_SAFE_NO_PAD.encode(sig));
    assert!(matches!(
        issuer.verify(&forged),
        Err(TokenError::Invalid(_))
    ));
}

#[test]
fn a_token_signed_with_another_key_is_invalid() {
    let (issuer, _) = issuer();
    let other = JwtCodec::new(
        b"another key, also long enough for HS256",
        TokenConfig::default(),
        ManualClock::new(NOW),
    )
    .expect("key");
    let token = other.issue(&session(600)).expect("issue");
    assert!(matches!(issuer.verify(&token), Err(TokenError::Invalid(_))));
}

#[test]
fn an_unsigned_alg_none_token_is_invalid() {
    let (issuer, _) = issuer();
    let token = issuer.issue(&session(600)).expect("issue");
    let payload = parts(&token)[1].clone();
    let header = encode(&serde_json::json!({"alg": "none", "typ": "at+jwt"}));
    for forged in [
        format!("{header}.{payload}."),
        format!("{header}.{payload}"),
    ] {
        assert!(
            matches!(issuer.verify(&forged), Err(TokenError::Invalid(_))),
            "{forged}"
        );
    }
}

/// The RSA code jwt-simple carries (deny.toml) is never reached: a header naming an RSA or EC
/// algorithm is refused, whatever the signature.
#[test]
fn a_token_signed_with_another_algorithm_is_refused() {
    let (issuer, _) = issuer();
    let token = issuer.issue(&session(600)).expect("issue");
    let [_, payload, signature] = <[String; 3]>::try_from(parts(&token)).expect("three parts");
    for alg in ["RS256", "PS256", "ES256", "HS512"] {
        let header = encode(&serde_json::json!({"alg": alg, "typ": "at+jwt"}));
        let forged = format!("{header}.{payload}.{signature}");
        assert!(
            matches!(issuer.verify(&forged), Err(TokenError::Invalid(_))),
            "{alg}"
        );
    }
}

#[test]
fn a_token_for_another_issuer_or_audience_is_invalid() {
    let (issuer, _) = issuer();
    for config in [
        TokenConfig {
            issuer: "someone-else".into(),
            ..TokenConfig::default()
        },
        TokenConfig {
            audience: "another-api".into(),
            ..TokenConfig::default()
        },
    ] {
        let foreign = JwtCodec::new(KEY, config, ManualClock::new(NOW)).expect("key");
        let token = foreign.issue(&session(600)).expect("issue");
        assert!(matches!(issuer.verify(&token), Err(TokenError::Invalid(_))));
    }
}

#[test]
fn a_token_of_another_type_signed_with_our_key_is_invalid() {
    use jwt_simple::prelude::{Claims, Duration, HS256Key, MACLike};
    let (issuer, _) = issuer();
    // Everything right but the `typ` header: only that can make it fail.
    let claims = Claims::with_custom_claims(
        serde_json::json!({"sid": "session-42"}),
        Duration::from_secs(600),
    )
    .with_issuer("wxlogin")
    .with_audience("wxlogin-api")
    .with_subject("user-7");
    let plain_jwt = HS256Key::from_bytes(KEY)
        .authenticate(claims)
        .expect("sign");
    assert!(matches!(
        issuer.verify(&plain_jwt),
        Err(TokenError::Invalid(_))
    ));
}

#[test]
fn garbage_is_invalid_and_never_panics() {
    let (issuer, _) = issuer();
    let long = "a".repeat(10_000);
    for input in [
        "",
        ".",
        "..",
        "a.b.c",
        "Bearer",
        "eyJ.eyJ.sig",
        "\u{0}\u{ffff}",
        &long,
    ] {
        assert!(
            matches!(issuer.verify(input), Err(TokenError::Invalid(_))),
            "{input:?}"
        );
    }
}

#[test]
fn the_issuer_reads_time_from_its_clock() {
    let (issuer, clock) = issuer();
    clock.set(NOW + 1_000);
    let token = issuer
        .issue(&SessionToken {
            expires_at: NOW + 1_060,
            ..session(0)
        })
        .expect("issue");
    assert_eq!(decode(&parts(&token)[1])["iat"], clock.now());
}

#[test]
fn debug_output_never_shows_the_key() {
    let (issuer, _) = issuer();
    let shown = format!("{issuer:?}");
    assert!(!shown.contains("0123456789abcdef"), "{shown}");
}
