//! Verifying an access token with the keys already fetched: the CPU every request to another
//! service spends on it, per algorithm. `cargo bench -p wxlogin-verifier`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use jwt_simple::prelude::{
    Claims, Duration, ECDSAP256KeyPairLike, ES256KeyPair, Ed25519KeyPair, EdDSAKeyPairLike,
    HeaderOptions, JWTClaims,
};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wxlogin_verifier::{Verifier, VerifierConfig};

#[derive(Serialize)]
struct WxClaims {
    sid: String,
    appid: String,
}

fn claims() -> JWTClaims<WxClaims> {
    Claims::with_custom_claims(
        WxClaims {
            sid: "019ab3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b".into(),
            appid: "wx0123456789abcdef".into(),
        },
        Duration::from_hours(2),
    )
    .with_issuer("wxlogin")
    .with_audience("orders")
    .with_subject("732049b7-a046-4a4d-bab7-1fed10cb2ce5")
}

/// Serves `jwks` to whoever connects, on the runtime running it: the warm-up's one fetch.
async fn serve_jwks(jwks: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut request = [0_u8; 4096];
            let _ = stream.read(&mut request).await;
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                 Cache-Control: public, max-age=600\r\nConnection: close\r\n\r\n{jwks}",
                jwks.len()
            );
            let _ = stream.write_all(answer.as_bytes()).await;
        }
    });
    base
}

fn verify(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let ed = Ed25519KeyPair::generate().with_key_id("ed");
    let es = ES256KeyPair::generate().with_key_id("es");
    let jwks = format!(
        r#"{{"keys":[{},{}]}}"#,
        ed.public_key().to_jwk(),
        es.public_key().to_jwk()
    );
    let base = runtime.block_on(serve_jwks(jwks));
    let verifier =
        Verifier::new(VerifierConfig::new(&base, "wxlogin", "orders")).expect("verifier");
    runtime.block_on(verifier.warm_up()).expect("keys");
    let header = HeaderOptions {
        signature_type: Some("at+jwt".into()),
        ..HeaderOptions::default()
    };
    let ed_token = ed.sign_with_options(claims(), &header).expect("signed");
    let es_token = es.sign_with_options(claims(), &header).expect("signed");

    for token in [&ed_token, &es_token] {
        runtime
            .block_on(verifier.verify(token))
            .expect("a valid token");
    }

    c.bench_function("verify EdDSA (Ed25519), warm keys", |b| {
        b.iter(|| runtime.block_on(verifier.verify(black_box(&ed_token))))
    });
    c.bench_function("verify ES256 (P-256), warm keys", |b| {
        b.iter(|| runtime.block_on(verifier.verify(black_box(&es_token))))
    });
}

criterion_group!(benches, verify);
criterion_main!(benches);
