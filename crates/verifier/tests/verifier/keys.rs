//! Where the keys come from: fetched once, refreshed, refetched on rotation, never hammered.

use std::time::Duration;

use wxlogin_verifier::{FetchError, VerifyError};

use crate::TestBed;
use crate::mint::{Signer, claims};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_verifier_fetches_the_jwks_once_for_many_concurrent_tokens() {
    let bed = TestBed::start().await;
    let token = bed.ed.sign(claims("s-1"));

    let mut verifications = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (verifier, token) = (bed.verifier.clone(), token.clone());
        verifications.spawn(async move { verifier.verify(&token).await });
    }
    while let Some(result) = verifications.join_next().await {
        assert!(result.unwrap().is_ok());
    }

    assert_eq!(bed.server.jwks_requests(), 1);
}

#[tokio::test]
async fn a_warm_verifier_does_not_fetch_again() {
    let bed = TestBed::start().await;
    assert_eq!(bed.verifier.warm_up().await.unwrap(), 2);

    for _ in 0..20 {
        bed.verifier
            .verify(&bed.es.sign(claims("s-1")))
            .await
            .unwrap();
    }

    assert_eq!(bed.server.jwks_requests(), 1);
}

#[tokio::test]
async fn a_key_rotated_in_is_accepted_after_one_refetch() {
    let bed = TestBed::start_with(|c| c.with_refetch_cooldown(Duration::from_millis(200))).await;
    bed.verifier.warm_up().await.unwrap();
    tokio::time::sleep(Duration::from_millis(250)).await;
    let next = Signer::ed25519("ed-2026-02");
    bed.server.publish(next.jwk());

    let claims = bed.verifier.verify(&next.sign(claims("s-1"))).await;

    assert_eq!(claims.unwrap().sid, "s-1");
    assert_eq!(bed.server.jwks_requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_unknown_kids_fetches_at_most_once_per_cooldown() {
    let bed = TestBed::start_with(|c| c.with_refetch_cooldown(Duration::from_secs(1))).await;
    bed.verifier.warm_up().await.unwrap();
    let forged: Vec<String> = (0..200)
        .map(|i| Signer::ed25519(&format!("forged-{i}")).sign(claims("s-1")))
        .collect();
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let started = std::time::Instant::now();
    let mut flood = tokio::task::JoinSet::new();
    for token in forged {
        let verifier = bed.verifier.clone();
        flood.spawn(async move { verifier.verify(&token).await });
    }
    while let Some(result) = flood.join_next().await {
        assert!(matches!(result.unwrap(), Err(VerifyError::UnknownKey)));
    }
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the flood outlived the cooldown"
    );

    assert_eq!(
        bed.server.jwks_requests(),
        2,
        "the warm-up, then one refetch"
    );
    // The known keys still verify, without fetching.
    assert!(
        bed.verifier
            .verify(&bed.ed.sign(claims("s-1")))
            .await
            .is_ok()
    );
    assert_eq!(bed.server.jwks_requests(), 2);
}

#[tokio::test]
async fn the_keys_are_fetched_again_after_their_max_age() {
    let bed = TestBed::start_with(|c| c.with_refetch_cooldown(Duration::from_millis(100))).await;
    bed.server.set_jwks_cache_control("public, max-age=1");
    let token = bed.ed.sign(claims("s-1"));
    bed.verifier.verify(&token).await.unwrap();
    bed.verifier.verify(&token).await.unwrap();
    assert_eq!(bed.server.jwks_requests(), 1);

    tokio::time::sleep(Duration::from_millis(1100)).await;
    bed.verifier.verify(&token).await.unwrap();

    assert_eq!(bed.server.jwks_requests(), 2);
}

#[tokio::test]
async fn known_keys_still_verify_while_the_jwks_cannot_be_refetched() {
    let bed = TestBed::start_with(|c| c.with_refetch_cooldown(Duration::from_millis(100))).await;
    bed.server.set_jwks_cache_control("public, max-age=1");
    let token = bed.ed.sign(claims("s-1"));
    bed.verifier.verify(&token).await.unwrap();
    bed.server.set_jwks_status(503);

    tokio::time::sleep(Duration::from_millis(1100)).await;

    assert!(bed.verifier.verify(&token).await.is_ok());
    assert_eq!(bed.server.jwks_requests(), 2, "it did try");
}

#[tokio::test]
async fn an_unreachable_jwks_is_unavailable_not_a_bad_token() {
    let bed = TestBed::start().await;
    bed.server.set_jwks_status(500);

    let error = bed
        .verifier
        .verify(&bed.ed.sign(claims("s-1")))
        .await
        .unwrap_err();

    assert!(error.is_unavailable(), "{error:?}");
    assert!(matches!(error, VerifyError::Jwks(FetchError::Status(500))));
}

#[tokio::test]
async fn a_jwks_larger_than_64_kib_is_refused() {
    let bed = TestBed::start().await;
    bed.server.pad_jwks(64 * 1024);

    let error = bed
        .verifier
        .verify(&bed.ed.sign(claims("s-1")))
        .await
        .unwrap_err();

    assert!(matches!(
        error,
        VerifyError::Jwks(FetchError::TooLarge { limit: 65536 })
    ));
}
