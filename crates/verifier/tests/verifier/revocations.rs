//! Following the revocation feed: a logged-out session's tokens refused within a second.

use std::time::Duration;

use wxlogin_verifier::{ConfigError, Verifier, VerifierConfig, VerifyError};

use crate::mint::{AUDIENCE, ISSUER, claims, now};
use crate::{TestBed, eventually};

#[tokio::test]
async fn a_token_is_refused_within_a_second_of_the_feed_announcing_its_session_ended() {
    let bed = TestBed::start().await;
    let token = bed.ed.sign(claims("s-logout"));
    let follower = bed.verifier.follow_revocations().unwrap();
    follower.synced().await;
    assert!(bed.verifier.verify(&token).await.is_ok());
    // Let the follower's long poll reach the server and wait there.
    assert!(
        eventually(Duration::from_secs(2), async || bed.server.feed_requests()
            == 2)
        .await
        .is_some()
    );

    bed.server.end_session("s-logout", now() + 7200);
    let refused_after = eventually(Duration::from_secs(1), async || {
        matches!(bed.verifier.verify(&token).await, Err(VerifyError::Revoked))
    })
    .await;

    assert!(
        refused_after.is_some(),
        "still accepted 1 s after the logout"
    );
    // Other sessions are unaffected.
    assert!(
        bed.verifier
            .verify(&bed.ed.sign(claims("s-other")))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn sessions_ended_before_following_are_refused_once_synced() {
    let bed = TestBed::start().await;
    bed.server.end_session("s-earlier", now() + 7200);
    let token = bed.ed.sign(claims("s-earlier"));

    let follower = bed.verifier.follow_revocations().unwrap();
    follower.synced().await;

    assert!(follower.is_synced());
    assert!(matches!(
        bed.verifier.verify(&token).await,
        Err(VerifyError::Revoked)
    ));
    assert_eq!(bed.server.feed_requests_without_cursor(), 1);
}

#[tokio::test]
async fn an_ended_session_is_forgotten_once_its_tokens_are_dead() {
    let bed = TestBed::start_with(|c| c.with_leeway(Duration::ZERO)).await;
    bed.server.end_session("s-short", now() + 1);
    bed.server.end_session("s-long", now() + 7200);
    let follower = bed.verifier.follow_revocations().unwrap();
    follower.synced().await;
    assert_eq!(bed.verifier.revoked_sessions(), 2);

    // `until` passes while the follower's long poll is pending: forgotten all the same.
    let forgotten = eventually(Duration::from_secs(4), async || {
        bed.verifier.revoked_sessions() == 1
    })
    .await;

    assert!(forgotten.is_some(), "the map never forgot s-short");
    let long = bed.ed.sign(claims("s-long"));
    assert!(matches!(
        bed.verifier.verify(&long).await,
        Err(VerifyError::Revoked)
    ));
}

#[tokio::test]
async fn an_entry_is_kept_through_the_leeway_since_tokens_pass_that_long_after_exp() {
    let bed = TestBed::start_with(|c| c.with_leeway(Duration::from_secs(30))).await;
    bed.server.end_session("s-ended", now() - 5);
    let follower = bed.verifier.follow_revocations().unwrap();
    follower.synced().await;
    // exp 10 s ago: still within the leeway, so the revocation must still count.
    let token = bed.ed.sign(crate::mint::claims_between(
        "s-ended",
        now() - 100,
        now() - 10,
    ));

    assert!(matches!(
        bed.verifier.verify(&token).await,
        Err(VerifyError::Revoked)
    ));
}

#[tokio::test]
async fn a_refused_cursor_starts_over_without_one() {
    let bed = TestBed::start().await;
    let token = bed.ed.sign(claims("s-after-restart"));
    let follower = bed.verifier.follow_revocations().unwrap();
    follower.synced().await;

    bed.server.forget_cursors();
    bed.server.end_session("s-after-restart", now() + 7200);
    let refused = eventually(Duration::from_secs(2), async || {
        matches!(bed.verifier.verify(&token).await, Err(VerifyError::Revoked))
    })
    .await;

    assert!(refused.is_some());
    assert_eq!(bed.server.feed_requests_without_cursor(), 2);
}

#[tokio::test]
async fn feed_errors_back_off_instead_of_spinning_then_recover() {
    let bed = TestBed::start().await;
    bed.server.fail_feed_with(Some(500));
    let follower = bed.verifier.follow_revocations().unwrap();

    tokio::time::sleep(Duration::from_secs(2)).await;
    let tries = bed.server.feed_requests();
    // 250 ms doubling, each drawn in [half, all]: at most t = 0, .125, .375, .875, 1.875.
    assert!((2..=5).contains(&tries), "{tries} requests in 2 s");
    assert!(!follower.is_synced());

    bed.server.fail_feed_with(None);
    bed.server.end_session("s-during-outage", now() + 7200);
    let synced = tokio::time::timeout(Duration::from_secs(5), follower.synced()).await;

    assert!(synced.is_ok(), "never recovered");
    let token = bed.ed.sign(claims("s-during-outage"));
    assert!(matches!(
        bed.verifier.verify(&token).await,
        Err(VerifyError::Revoked)
    ));
}

#[tokio::test]
async fn dropping_the_follower_stops_polling() {
    let bed = TestBed::start().await;
    bed.server.fail_feed_with(Some(503));
    let follower = bed.verifier.follow_revocations().unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;

    drop(follower);
    let polled = bed.server.feed_requests();
    tokio::time::sleep(Duration::from_millis(1500)).await;

    assert_eq!(bed.server.feed_requests(), polled);
}

#[tokio::test]
async fn following_needs_a_revocations_url() {
    let config = VerifierConfig::with_jwks_url("http://127.0.0.1:9/jwks", ISSUER, AUDIENCE);
    let verifier = Verifier::new(config).unwrap();

    assert!(matches!(
        verifier.follow_revocations(),
        Err(ConfigError::NoRevocationsUrl)
    ));
}
