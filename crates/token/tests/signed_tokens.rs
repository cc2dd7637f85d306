//! Asymmetric tokens over a key ring: what other services verify from the published keys
//! alone, how keys rotate across instances, and how v2 tokens live out an upgrade.

use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwt_simple::prelude::{
    Duration, Ed25519PublicKey, EdDSAPublicKeyLike, NoCustomClaims, VerificationOptions,
};
use wxlogin_domain::{
    ManualClock, SessionToken, SigningKeyStore, StoreError, StoredSigningKey, TokenCodec,
    TokenError, async_trait,
};
use wxlogin_token::{
    JwtCodec, KeyPolicy, KeyRing, KeyState, PUBLISH_LEAD_SECS, SignedTokens, SigningAlgorithm,
    TokenConfig,
};

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
const NOW: i64 = 1_800_000_000;
const DAY: i64 = 86_400;

/// The store every instance shares, in memory, with the same rule a database enforces:
/// a kid and a generation are unique.
#[derive(Default)]
struct SharedKeys(Mutex<Vec<StoredSigningKey>>);

#[async_trait]
impl SigningKeyStore for SharedKeys {
    async fn signing_keys(&self) -> Result<Vec<StoredSigningKey>, StoreError> {
        Ok(self.0.lock().expect("lock").clone())
    }
    async fn add_signing_key(&self, key: &StoredSigningKey) -> Result<bool, StoreError> {
        let mut keys = self.0.lock().expect("lock");
        if keys
            .iter()
            .any(|k| k.kid == key.kid || k.generation == key.generation)
        {
            return Ok(false);
        }
        keys.push(key.clone());
        Ok(true)
    }
}

fn policy(algorithm: SigningAlgorithm) -> KeyPolicy {
    KeyPolicy {
        algorithm,
        rotation_secs: 30 * DAY,
        token_lifetime_secs: 7200,
        make_keys: true,
    }
}

struct Instance {
    ring: Arc<KeyRing>,
    codec: SignedTokens<Arc<ManualClock>>,
}

fn instance(policy: KeyPolicy, clock: &Arc<ManualClock>) -> Instance {
    let ring = Arc::new(KeyRing::new(policy));
    let codec = SignedTokens::new(
        ring.clone(),
        SECRET,
        7 * DAY,
        TokenConfig::default(),
        clock.clone(),
    )
    .expect("secret is long enough");
    Instance { ring, codec }
}

fn session(expires_at: i64) -> SessionToken {
    SessionToken {
        user_id: "user-7".into(),
        session_id: "session-42".into(),
        appid: "wx-app".into(),
        expires_at,
    }
}

fn header(token: &str) -> serde_json::Value {
    let part = token.split('.').next().expect("header");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("b64")).expect("json")
}

#[tokio::test]
async fn a_token_names_its_key_and_verifies_with_the_published_public_key_alone() {
    let clock = Arc::new(ManualClock::new(NOW));
    let store = SharedKeys::default();
    let a = instance(policy(SigningAlgorithm::EdDsa), &clock);
    let report = a.ring.sync(&store, NOW).await.expect("sync");
    assert!(report.made.is_some(), "the first key is made at once");
    let token = a.codec.issue(&session(NOW + 600)).expect("issue");
    let h = header(&token);
    assert_eq!(h["alg"], "EdDSA");
    assert_eq!(h["typ"], "at+jwt");
    assert_eq!(
        Some(h["kid"].as_str().expect("kid")),
        report.made.as_deref()
    );
    assert_eq!(a.codec.verify(&token), Ok(session(NOW + 600)));

    let jwks = a.ring.jwks(NOW);
    let keys = jwks["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 1);
    let jwk = &keys[0];
    assert_eq!(jwk["kty"], "OKP");
    assert_eq!(jwk["crv"], "Ed25519");
    assert_eq!(jwk["use"], "sig");
    assert_eq!(jwk["alg"], "EdDSA");
    assert_eq!(jwk["kid"], h["kid"]);
    assert!(jwk.get("d").is_none(), "never the private key: {jwk}");
    // Another library's view: only the JWK's `x`, nothing of ours.
    let public = Ed25519PublicKey::from_jwk(&jwk.to_string()).expect("a public JWK");
    let claims = public
        .verify_token::<NoCustomClaims>(
            &token,
            Some(VerificationOptions {
                artificial_time: Some(Duration::from_secs(NOW as u64)),
                ..VerificationOptions::default()
            }),
        )
        .expect("verifies from the JWK alone");
    assert_eq!(claims.subject.as_deref(), Some("user-7"));
}

#[tokio::test]
async fn es256_keys_publish_both_coordinates() {
    let clock = Arc::new(ManualClock::new(NOW));
    let store = SharedKeys::default();
    let a = instance(policy(SigningAlgorithm::Es256), &clock);
    a.ring.sync(&store, NOW).await.expect("sync");
    let token = a.codec.issue(&session(NOW + 600)).expect("issue");
    assert_eq!(header(&token)["alg"], "ES256");
    assert_eq!(a.codec.verify(&token), Ok(session(NOW + 600)));
    let jwks = a.ring.jwks(NOW);
    let jwk = &jwks["keys"][0];
    assert_eq!(
        (jwk["kty"].as_str(), jwk["crv"].as_str()),
        (Some("EC"), Some("P-256"))
    );
    assert!(jwk["x"].is_string() && jwk["y"].is_string() && jwk.get("d").is_none());
}

#[tokio::test]
async fn two_instances_starting_together_make_one_key_and_take_each_others_tokens() {
    let clock = Arc::new(ManualClock::new(NOW));
    let store = SharedKeys::default();
    let a = instance(policy(SigningAlgorithm::EdDsa), &clock);
    let b = instance(policy(SigningAlgorithm::EdDsa), &clock);
    let (ra, rb) = tokio::join!(a.ring.sync(&store, NOW), b.ring.sync(&store, NOW));
    ra.expect("a");
    rb.expect("b");
    assert_eq!(store.signing_keys().await.expect("keys").len(), 1);
    let from_a = a.codec.issue(&session(NOW + 600)).expect("issue");
    assert_eq!(b.codec.verify(&from_a), Ok(session(NOW + 600)));
}

#[tokio::test]
async fn a_rotation_is_published_before_it_signs_and_no_token_is_refused_on_the_way() {
    let clock = Arc::new(ManualClock::new(NOW));
    let store = SharedKeys::default();
    let a = instance(policy(SigningAlgorithm::EdDsa), &clock);
    let b = instance(policy(SigningAlgorithm::EdDsa), &clock);
    a.ring.sync(&store, NOW).await.expect("sync");
    b.ring.sync(&store, NOW).await.expect("sync");
    let before = a.codec.issue(&session(NOW + 7200)).expect("issue");

    // `keys rotate` on A: published now, signing a lead later.
    let (rotated, made) = a.ring.rotate(&store, NOW).await.expect("rotate");
    assert!(made);
    assert_eq!(rotated.state, KeyState::Pending);
    assert_eq!(rotated.signs_from, NOW + PUBLISH_LEAD_SECS);
    // B learns of it at its next sync, long before it signs.
    b.ring.sync(&store, NOW + 30).await.expect("sync");
    assert_eq!(
        a.ring.jwks(NOW + 30)["keys"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(b.ring.jwks(NOW + 30), a.ring.jwks(NOW + 30));
    // A second `keys rotate` while one is pending makes nothing.
    let (again, made_again) = a.ring.rotate(&store, NOW + 31).await.expect("rotate");
    assert!(!made_again);
    assert_eq!(again.kid, rotated.kid);

    clock.set(NOW + PUBLISH_LEAD_SECS);
    let after = b.codec.issue(&session(NOW + 7200)).expect("issue");
    assert_eq!(header(&after)["kid"].as_str(), Some(rotated.kid.as_str()));
    for token in [&before, &after] {
        assert!(a.codec.verify(token).is_ok());
        assert!(b.codec.verify(token).is_ok());
    }
    // The retired key stays published until its last token expired, then goes.
    let old_kid = header(&before)["kid"].as_str().expect("kid").to_owned();
    let list = a.ring.list(NOW + PUBLISH_LEAD_SECS);
    let old = list
        .iter()
        .find(|k| k.kid == old_kid)
        .expect("old key listed");
    assert_eq!(old.state, KeyState::Retired);
    let until = old.published_until.expect("retired keys say until when");
    assert!(until >= NOW + 7200, "published while its tokens live");
    let published = |at: i64| {
        a.ring.jwks(at)["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .any(|k| k["kid"] == old_kid.as_str())
    };
    assert!(published(until));
    assert!(!published(until + 1));
}

#[tokio::test]
async fn a_key_is_rotated_on_schedule_by_whichever_instance_syncs() {
    let clock = Arc::new(ManualClock::new(NOW));
    let store = SharedKeys::default();
    let a = instance(policy(SigningAlgorithm::EdDsa), &clock);
    a.ring.sync(&store, NOW).await.expect("sync");
    let due = NOW + 30 * DAY - PUBLISH_LEAD_SECS;
    assert_eq!(a.ring.sync(&store, due - 1).await.expect("sync").made, None);
    assert!(a.ring.sync(&store, due).await.expect("sync").made.is_some());
    assert_eq!(store.signing_keys().await.expect("keys").len(), 2);
}

#[tokio::test]
async fn an_unknown_kid_a_foreign_key_and_an_algorithm_swap_are_refused() {
    let clock = Arc::new(ManualClock::new(NOW));
    let ours = SharedKeys::default();
    let theirs = SharedKeys::default();
    let a = instance(policy(SigningAlgorithm::EdDsa), &clock);
    let stranger = instance(policy(SigningAlgorithm::EdDsa), &clock);
    a.ring.sync(&ours, NOW).await.expect("sync");
    stranger.ring.sync(&theirs, NOW).await.expect("sync");
    let foreign = stranger.codec.issue(&session(NOW + 600)).expect("issue");
    assert!(matches!(
        a.codec.verify(&foreign),
        Err(TokenError::Invalid(_))
    ));

    // The same payload under a header that names our key with another algorithm.
    let token = a.codec.issue(&session(NOW + 600)).expect("issue");
    let mut h = header(&token);
    h["alg"] = "ES256".into();
    let parts: Vec<&str> = token.split('.').collect();
    let swapped = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(h.to_string()),
        parts[1],
        parts[2]
    );
    assert!(matches!(
        a.codec.verify(&swapped),
        Err(TokenError::Invalid(_))
    ));
}

#[tokio::test]
async fn an_hs256_token_signed_with_the_public_key_is_refused() {
    // The classic confusion: a verifier that takes `alg` from the token and the public key as
    // an HMAC secret. Ours takes HS256 only with the token secret, and only in its window.
    let clock = Arc::new(ManualClock::new(NOW));
    let store = SharedKeys::default();
    let a = instance(policy(SigningAlgorithm::EdDsa), &clock);
    a.ring.sync(&store, NOW).await.expect("sync");
    let jwks = a.ring.jwks(NOW);
    let x = URL_SAFE_NO_PAD
        .decode(jwks["keys"][0]["x"].as_str().expect("x"))
        .expect("b64");
    let mut padded = x.clone();
    padded.resize(32.max(x.len()), 0);
    let forger = JwtCodec::new(&padded, TokenConfig::default(), clock.clone()).expect("codec");
    let forged = forger.issue(&session(NOW + 600)).expect("issue");
    assert!(matches!(
        a.codec.verify(&forged),
        Err(TokenError::Invalid(_))
    ));
}

#[tokio::test]
async fn v2_tokens_verify_until_they_expire_and_hs256_is_refused_after_the_window() {
    let clock = Arc::new(ManualClock::new(NOW));
    let store = SharedKeys::default();
    // Issued by the v2 server, before the upgrade, for a seven-day session.
    let v2 = JwtCodec::new(SECRET, TokenConfig::default(), clock.clone()).expect("codec");
    let old = v2.issue(&session(NOW + 7 * DAY)).expect("issue");
    let a = instance(policy(SigningAlgorithm::EdDsa), &clock);
    a.ring.sync(&store, NOW + 60).await.expect("sync");
    clock.set(NOW + 6 * DAY);
    assert!(a.codec.verify(&old).is_ok());
    // Past the longest a v2 token lived, HS256 is not taken at all, whatever it claims.
    clock.set(NOW + 60 + 7 * DAY + 61);
    let forged_late = v2.issue(&session(NOW + 9 * DAY)).expect("issue");
    assert!(matches!(
        a.codec.verify(&forged_late),
        Err(TokenError::Invalid(_))
    ));
}

#[tokio::test]
async fn with_hs256_configured_no_key_is_made_and_tokens_are_hs256() {
    let clock = Arc::new(ManualClock::new(NOW));
    let store = SharedKeys::default();
    let a = instance(
        KeyPolicy {
            make_keys: false,
            ..policy(SigningAlgorithm::EdDsa)
        },
        &clock,
    );
    a.ring.sync(&store, NOW).await.expect("sync");
    assert!(store.signing_keys().await.expect("keys").is_empty());
    assert!(matches!(
        a.ring.rotate(&store, NOW).await,
        Err(wxlogin_token::KeyError::NotMade)
    ));
    let token = a.codec.issue(&session(NOW + 600)).expect("issue");
    assert_eq!(header(&token)["alg"], "HS256");
    assert_eq!(a.codec.verify(&token), Ok(session(NOW + 600)));
    assert_eq!(a.ring.jwks(NOW)["keys"].as_array().map(Vec::len), Some(0));
}

#[tokio::test]
async fn no_token_is_issued_before_the_keys_are_read() {
    let clock = Arc::new(ManualClock::new(NOW));
    let a = instance(policy(SigningAlgorithm::EdDsa), &clock);
    assert!(matches!(
        a.codec.issue(&session(NOW + 600)),
        Err(TokenError::Signing(_))
    ));
}

#[test]
fn debug_output_never_shows_key_material() {
    let clock = Arc::new(ManualClock::new(NOW));
    let a = instance(policy(SigningAlgorithm::EdDsa), &clock);
    let shown = format!("{:?}", a.codec);
    assert!(shown.contains("<redacted>"), "{shown}");
}
