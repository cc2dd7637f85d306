//! The session cache: a session read once is trusted for the window without the store, and
//! every check the store path makes still holds on a hit.

use std::sync::Arc;

use mockall::predicate::eq;
use wxlogin_core::CoreError;
use wxlogin_domain::{Session, SessionToken};

use crate::support::{Mocks, NOW, TTL, at, opened, session, user, wechat_session};

/// A service whose store answers `s1` of `u1` exactly once, with a cache of `window`.
fn cached_once(m: &mut Mocks, expires_at: i64, window: std::time::Duration) {
    m.settings.session_cache = window;
    m.sessions
        .expect_find_session_with_user()
        .with(eq("s1"))
        .times(1)
        .returning(move |_| {
            let live = Session {
                expires_at,
                ..session("s1", "u1")
            };
            Ok(Some((live, Some(user("u1")))))
        });
}

fn verifies_as(m: &mut Mocks, tokens: &[(&'static str, &'static str)]) {
    let mut order = mockall::Sequence::new();
    for &(session_id, user_id) in tokens {
        m.tokens
            .expect_verify()
            .times(1)
            .in_sequence(&mut order)
            .returning(move |_| {
                Ok(SessionToken {
                    user_id: user_id.into(),
                    session_id: session_id.into(),
                    appid: String::new(),
                    expires_at: NOW + TTL,
                })
            });
    }
}

#[tokio::test]
async fn a_cached_session_is_served_without_the_store_within_the_window() {
    let mut m = Mocks::new();
    cached_once(&mut m, NOW + TTL, std::time::Duration::from_secs(60));
    verifies_as(&mut m, &[("s1", "u1"), ("s1", "u1"), ("s1", "u1")]);
    let service = m.service();
    for _ in 0..3 {
        let caller = service.authenticate("the-token").await.expect("caller");
        assert_eq!(caller.user.id, "u1");
    }
    // `times(1)` on the store is the assertion that the second and third were cache hits.
}

#[tokio::test]
async fn a_cached_session_whose_lifetime_ends_is_refused_as_expired_without_the_store() {
    let mut m = Mocks::new();
    cached_once(&mut m, NOW + 10, std::time::Duration::from_secs(60));
    verifies_as(&mut m, &[("s1", "u1"), ("s1", "u1")]);
    let clock = Arc::clone(&m.clock);
    let service = m.service();
    service.authenticate("the-token").await.expect("live");
    clock.advance(11);
    assert!(matches!(
        service.authenticate("the-token").await,
        Err(CoreError::TokenExpired)
    ));
}

/// The requests right after a login find its session in the cache: no read.
#[tokio::test]
async fn a_fresh_login_is_cached_so_the_next_request_reads_nothing() {
    let mut m = Mocks::new();
    m.settings.session_cache = std::time::Duration::from_secs(60);
    m.wechat
        .expect_code2session()
        .returning(|_| Ok(wechat_session()));
    m.sessions
        .expect_open_login()
        .times(1)
        .returning(|_| Ok(opened("u1", true, "s1")));
    m.tokens.expect_issue().returning(|_| Ok("t".into()));
    m.sessions.expect_find_session_with_user().never();
    verifies_as(&mut m, &[("s1", "u1")]);
    let service = m.service();
    service.login(None, "code-1").await.expect("logged in");
    let caller = service.authenticate("t").await.expect("cached");
    assert_eq!(caller.user.id, "u1");
}

#[tokio::test]
async fn a_cached_session_is_refused_to_a_token_of_another_user() {
    let mut m = Mocks::new();
    cached_once(&mut m, NOW + TTL, std::time::Duration::from_secs(60));
    verifies_as(&mut m, &[("s1", "u1"), ("s1", "intruder")]);
    let service = m.service();
    service.authenticate("the-token").await.expect("owner");
    assert!(matches!(
        service.authenticate("the-token").await,
        Err(CoreError::TokenInvalid(_))
    ));
}

#[tokio::test]
async fn after_logout_the_cached_session_is_read_again_and_refused_as_revoked() {
    let mut m = Mocks::new();
    m.settings.session_cache = std::time::Duration::from_secs(60);
    let mut reads = mockall::Sequence::new();
    m.sessions
        .expect_find_session_with_user()
        .times(1)
        .in_sequence(&mut reads)
        .returning(|_| Ok(Some((session("s1", "u1"), Some(user("u1"))))));
    m.sessions
        .expect_revoke_session()
        .with(eq("s1"), at(NOW))
        .times(1)
        .in_sequence(&mut reads)
        .returning(|_, _| Ok(true));
    m.sessions
        .expect_find_session_with_user()
        .times(1)
        .in_sequence(&mut reads)
        .returning(|_| {
            let revoked = Session {
                revoked_at: Some(NOW),
                ..session("s1", "u1")
            };
            Ok(Some((revoked, Some(user("u1")))))
        });
    verifies_as(&mut m, &[("s1", "u1"), ("s1", "u1")]);
    let service = m.service();
    let caller = service.authenticate("the-token").await.expect("live");
    service.logout(&caller).await.expect("logout");
    assert!(matches!(
        service.authenticate("the-token").await,
        Err(CoreError::SessionRevoked)
    ));
}
