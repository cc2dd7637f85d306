//! What the session cache says it holds is what it holds: `SESSION_CACHE_MB` is the memory an
//! operator gives it, so each entry's weight must be its real cost. Counted by the allocator,
//! in a test binary of its own (the count is the whole process's).

use std::alloc::System;
use std::sync::Arc;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use wxlogin_core::{LoginService, LoginSettings};
use wxlogin_domain::{
    MockAccessTokenStore, MockSessionStore, MockTokenCodec, MockUserStore, MockWeChatApi, Session,
    SessionToken, User,
};

#[global_allocator]
static ALLOCATOR: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const APP: &str = "wx00000000000000fe";
const NOW: i64 = 1_800_000_000;
const SESSIONS: usize = 20_000;

/// What malloc adds to each block it hands out: a header, and rounding to 16 bytes.
const MALLOC_OVERHEAD: f64 = 16.0;

fn user_id(i: usize) -> String {
    format!("0193a5f2-7c1e-7d4b-9a3e-{i:012x}")
}

fn session_id(i: usize) -> String {
    format!("0193a5f2-8d2f-7e5c-8b4f-{i:012x}")
}

/// A user the size of a real one: a UUID, a nickname, WeChat's avatar URL, one app.
fn user(i: usize) -> User {
    User {
        id: user_id(i),
        unionid: None,
        nick_name: Some("Olga Ivanova".into()),
        avatar_url: Some(format!(
            "https://thirdwx.qlogo.cn/mmopen/vi_32/{i:0>64}/132"
        )),
        gender: Some(2),
        phone_number: None,
        apps: vec![APP.into()],
        created_at: NOW,
        updated_at: NOW,
        disabled_at: None,
        disabled_reason: None,
    }
}

fn service() -> Arc<LoginService> {
    let mut wechat = MockWeChatApi::new();
    wechat.expect_appid().return_const(APP.to_owned());
    let mut tokens = MockTokenCodec::new();
    tokens.expect_verify().returning(|token| {
        let i: usize = token.parse().expect("a number");
        Ok(SessionToken {
            user_id: user_id(i),
            session_id: session_id(i),
            appid: String::new(),
            expires_at: NOW + 3600,
        })
    });
    let mut sessions = MockSessionStore::new();
    sessions.expect_find_session_with_user().returning(|id| {
        let i = usize::from_str_radix(&id[24..], 16).expect("ours");
        let session = Session {
            id: id.to_owned(),
            user_id: user_id(i),
            appid: APP.into(),
            created_at: NOW,
            expires_at: NOW + 3600,
            revoked_at: None,
        };
        Ok(Some((session, Some(user(i)))))
    });
    LoginService::builder()
        .wechat(Arc::new(wechat))
        .users(Arc::new(MockUserStore::new()))
        .sessions(Arc::new(sessions))
        .access_tokens(Arc::new(MockAccessTokenStore::new()))
        .tokens(Arc::new(tokens))
        .clock(Arc::new(wxlogin_domain::ManualClock::new(NOW)))
        .settings(LoginSettings {
            session_cache_bytes: 1 << 30,
            // The session cache alone is weighed here.
            verified_token_bytes: 0,
            ..LoginSettings::default()
        })
        .build()
        .expect("every port given")
}

#[tokio::test(flavor = "current_thread")]
async fn each_cached_session_weighs_what_it_holds() {
    let service = service();
    // Warm up once, so that what is allocated once per process is not counted per session.
    service.authenticate("0").await.expect("authenticated");
    let before = service.session_cache_stats();
    let region = Region::new(ALLOCATOR);
    for i in 1..=SESSIONS {
        service
            .authenticate(&i.to_string())
            .await
            .expect("authenticated");
    }
    let change = region.change();
    let after = service.session_cache_stats();
    assert_eq!(
        after.misses - before.misses,
        SESSIONS as u64,
        "each one read once"
    );
    assert_eq!(after.entries - before.entries, 2 * SESSIONS as u64);

    let live_bytes = change.bytes_allocated as f64 - change.bytes_deallocated as f64
        + change.bytes_reallocated as f64;
    let live_blocks = change.allocations as f64 - change.deallocations as f64;
    let held = (live_bytes + MALLOC_OVERHEAD * live_blocks) / SESSIONS as f64;
    let weighed = (after.bytes - before.bytes) as f64 / SESSIONS as f64;
    println!("a session with its user: {held:.0} bytes held, {weighed:.0} weighed");
    assert!(
        (weighed - held).abs() / held < 0.2,
        "weighed {weighed:.0} bytes per session with its user, holds {held:.0}"
    );
}
