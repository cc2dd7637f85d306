//! wxlogin-verifier against a real (fake) wxlogin over HTTP: what the contract's section
//! "Tokens that other services verify" promises a service.

#![allow(clippy::unwrap_used)]

mod fake_wxlogin;
mod keys;
mod mint;
mod revocations;
mod tokens;

use std::time::Duration;

use fake_wxlogin::FakeWxlogin;
use mint::{AUDIENCE, ISSUER, Signer};
use wxlogin_verifier::{Verifier, VerifierConfig};

/// A fake wxlogin publishing one Ed25519 and one ES256 key, and a verifier pointed at it.
struct TestBed {
    server: FakeWxlogin,
    verifier: Verifier,
    ed: Signer,
    es: Signer,
}

impl TestBed {
    async fn start() -> Self {
        Self::start_with(|config| config).await
    }

    async fn start_with(tweak: impl FnOnce(VerifierConfig) -> VerifierConfig) -> Self {
        let ed = Signer::ed25519("ed-2026-01");
        let es = Signer::es256("es-2026-01");
        let server = FakeWxlogin::start(vec![ed.jwk(), es.jwk()]).await;
        let config = tweak(
            VerifierConfig::new(&server.base_url, ISSUER, AUDIENCE)
                .with_http_timeout(Duration::from_secs(5)),
        );
        let verifier = Verifier::new(config).unwrap();
        Self {
            server,
            verifier,
            ed,
            es,
        }
    }
}

/// Polls `condition` every 10 ms until it holds or `within` has passed; returns how long it took.
async fn eventually(
    within: Duration,
    mut condition: impl AsyncFnMut() -> bool,
) -> Option<Duration> {
    let start = std::time::Instant::now();
    while start.elapsed() < within {
        if condition().await {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}
