//! What makes one token acceptable: header, key, signature, claims.

use jwt_simple::prelude::{HS256Key, HeaderOptions, MACLike};
use wxlogin_verifier::VerifyError;

use crate::TestBed;
use crate::mint::{self, APPID, AUDIENCE, ISSUER, Signer, USER, claims, claims_between, now};

#[tokio::test]
async fn a_live_ed25519_token_is_accepted_with_its_claims() {
    let bed = TestBed::start().await;
    let token = bed.ed.sign(claims("s-1"));

    let claims = bed.verifier.verify(&token).await.unwrap();

    assert_eq!(claims.sub, USER);
    assert_eq!(claims.user_id(), USER);
    assert_eq!(claims.sid, "s-1");
    assert_eq!(claims.appid, APPID);
    assert!(claims.exp > now() + 7000);
    assert!(claims.iat <= now() && claims.nbf == claims.iat);
}

#[tokio::test]
async fn a_live_es256_token_is_accepted() {
    let bed = TestBed::start().await;
    let token = bed.es.sign(claims("s-1"));

    assert_eq!(bed.verifier.verify(&token).await.unwrap().sid, "s-1");
}

#[tokio::test]
async fn a_token_from_another_issuer_or_for_another_audience_is_refused() {
    let bed = TestBed::start().await;
    let other_issuer = bed.ed.sign(claims("s-1").with_issuer("someone-else"));
    let other_audience = bed.ed.sign(claims("s-1").with_audience("payments"));

    assert!(matches!(
        bed.verifier.verify(&other_issuer).await,
        Err(VerifyError::WrongIssuer)
    ));
    assert!(matches!(
        bed.verifier.verify(&other_audience).await,
        Err(VerifyError::WrongAudience)
    ));
}

#[tokio::test]
async fn a_token_expired_beyond_the_leeway_is_refused() {
    let bed = TestBed::start().await;
    let token = bed.ed.sign(claims_between("s-1", now() - 7200, now() - 31));

    assert!(matches!(
        bed.verifier.verify(&token).await,
        Err(VerifyError::Expired)
    ));
}

#[tokio::test]
async fn a_token_expired_within_the_leeway_passes_because_clocks_differ() {
    let bed = TestBed::start().await;
    let token = bed.ed.sign(claims_between("s-1", now() - 7200, now() - 10));

    assert!(bed.verifier.verify(&token).await.is_ok());
}

#[tokio::test]
async fn a_token_issued_beyond_the_leeway_in_the_future_is_refused() {
    let bed = TestBed::start().await;
    let token = bed
        .ed
        .sign(claims_between("s-1", now() + 120, now() + 7200));

    assert!(matches!(
        bed.verifier.verify(&token).await,
        Err(VerifyError::NotYetValid)
    ));
}

#[tokio::test]
async fn a_token_with_an_altered_payload_or_signature_is_refused() {
    let bed = TestBed::start().await;
    for signer in [&bed.ed, &bed.es] {
        let token = signer.sign(claims("s-1"));
        let (signed, signature) = token.rsplit_once('.').unwrap();
        let mut flipped = signature.as_bytes().to_vec();
        flipped[3] = if flipped[3] == b'A' { b'B' } else { b'A' };
        let other_signature = format!("{signed}.{}", String::from_utf8(flipped).unwrap());
        let header = token.split('.').next().unwrap();
        let other_user = mint::payload_of(&token).replace(USER, "u_admin");
        let other_payload = format!("{header}.{}.{signature}", mint::b64(&other_user));

        for forged in [other_signature, other_payload] {
            assert!(matches!(
                bed.verifier.verify(&forged).await,
                Err(VerifyError::BadSignature)
            ));
        }
    }
}

#[tokio::test]
async fn an_hs256_token_keyed_with_the_public_key_is_refused() {
    let bed = TestBed::start().await;
    let header = HeaderOptions {
        signature_type: Some("at+jwt".into()),
        ..HeaderOptions::default()
    };
    for (signer, kid) in [(&bed.ed, "ed-2026-01"), (&bed.es, "es-2026-01")] {
        for secret in [signer.public_key_bytes(), signer.jwk().into_bytes()] {
            let token = HS256Key::from_bytes(&secret)
                .with_key_id(kid)
                .authenticate_with_options(claims("s-1"), &header)
                .unwrap();

            assert!(matches!(
                bed.verifier.verify(&token).await,
                Err(VerifyError::UnsupportedAlgorithm)
            ));
        }
    }
    assert_eq!(
        bed.server.jwks_requests(),
        0,
        "refused before any key lookup"
    );
}

#[tokio::test]
async fn an_unsigned_alg_none_token_is_refused() {
    let bed = TestBed::start().await;
    let payload = mint::payload_of(&bed.ed.sign(claims("s-1")));
    for alg in ["none", "None", "NONE"] {
        let header = format!(r#"{{"alg":"{alg}","typ":"at+jwt","kid":"ed-2026-01"}}"#);
        let token = mint::raw_token(&header, &payload, b"");

        assert!(matches!(
            bed.verifier.verify(&token).await,
            Err(VerifyError::UnsupportedAlgorithm)
        ));
    }
}

#[tokio::test]
async fn a_token_without_kid_is_refused() {
    let bed = TestBed::start().await;
    let unnamed = Signer::Ed(jwt_simple::prelude::Ed25519KeyPair::generate());

    assert!(matches!(
        bed.verifier.verify(&unnamed.sign(claims("s-1"))).await,
        Err(VerifyError::MissingKeyId)
    ));
}

#[tokio::test]
async fn a_token_whose_alg_is_not_its_keys_alg_is_refused() {
    let bed = TestBed::start().await;
    // ES256-signed, naming the Ed25519 key.
    let impostor = Signer::es256("ed-2026-01");

    assert!(matches!(
        bed.verifier.verify(&impostor.sign(claims("s-1"))).await,
        Err(VerifyError::AlgorithmMismatch)
    ));
}

#[tokio::test]
async fn a_token_of_another_type_is_refused() {
    let bed = TestBed::start().await;
    for typ in [None, Some("JWT"), Some("id+jwt")] {
        let token = bed.ed.sign_typed(claims("s-1"), typ);

        assert!(matches!(
            bed.verifier.verify(&token).await,
            Err(VerifyError::WrongType)
        ));
    }
}

#[tokio::test]
async fn a_token_without_a_session_is_refused() {
    let bed = TestBed::start().await;
    let mut no_sid = claims("s-1");
    no_sid.custom.sid = None;

    assert!(matches!(
        bed.verifier.verify(&bed.ed.sign(no_sid)).await,
        Err(VerifyError::Malformed { .. })
    ));
}

#[tokio::test]
async fn garbage_is_malformed() {
    let bed = TestBed::start().await;
    for garbage in ["", "abc", "a.b.c", "....", &"x".repeat(5000)] {
        assert!(matches!(
            bed.verifier.verify(garbage).await,
            Err(VerifyError::Malformed { .. })
        ));
    }
}

#[tokio::test]
async fn no_error_text_quotes_the_token() {
    let bed = TestBed::start().await;
    let good = bed.ed.sign(claims("s-1"));
    let forged = [
        bed.ed.sign(claims("s-1").with_issuer("x")),
        bed.ed
            .sign(claims_between("s-1", now() - 7200, now() - 3600)),
        format!("{good}x"),
        good.replacen('.', ".e30", 1),
        Signer::ed25519("nobody").sign(claims("s-1")),
    ];
    for token in &forged {
        let error = bed.verifier.verify(token).await.unwrap_err();
        let texts = format!("{error} {error:?}");
        for part in token.split('.').filter(|part| part.len() > 8) {
            assert!(!texts.contains(part), "{texts}");
        }
    }
}

#[test]
fn verification_is_a_send_future_so_axum_handlers_can_await_it() {
    fn is_send<T: Send>(_: &T) {}
    let verifier = wxlogin_verifier::Verifier::new(wxlogin_verifier::VerifierConfig::new(
        "http://127.0.0.1:9",
        ISSUER,
        AUDIENCE,
    ))
    .unwrap();
    is_send(&verifier.verify("token"));
    fn is_shared<T: Send + Sync + Clone + 'static>() {}
    is_shared::<wxlogin_verifier::Verifier>();
}
