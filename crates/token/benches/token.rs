//! Issuing and verifying a login token: the CPU every login and every authenticated request
//! spends on it. `cargo bench -p wxlogin-token`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use wxlogin_domain::{SessionToken, SystemClock, TokenCodec};
use wxlogin_token::{JwtCodec, TokenConfig};

fn tokens(c: &mut Criterion) {
    let issuer = JwtCodec::new(
        b"a bench key of at least thirty-two bytes",
        TokenConfig::default(),
        SystemClock,
    )
    .expect("key");
    let claims = SessionToken {
        user_id: "732049b7-a046-4a4d-bab7-1fed10cb2ce5".into(),
        session_id: "019ab3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b".into(),
        appid: "wx-app".into(),
        expires_at: 4_000_000_000,
    };
    let token = issuer.issue(&claims).expect("issued");
    c.bench_function("issue", |b| b.iter(|| issuer.issue(black_box(&claims))));
    c.bench_function("verify", |b| b.iter(|| issuer.verify(black_box(&token))));
}

criterion_group!(benches, tokens);
criterion_main!(benches);
