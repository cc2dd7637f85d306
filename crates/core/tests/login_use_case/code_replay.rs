//! One code, one exchange with WeChat: a code submitted again gets its first answer, here or
//! from another instance, within CODE_REPLAY_SECS, from the first address only and while its
//! session lives; a failed exchange is not replayed.

use std::sync::Arc;

use mockall::predicate::eq;
use wxlogin_core::CoreError;
use wxlogin_domain::{CodeLogin, Session, WeChatError};

use crate::support::{Mocks, NOW, TTL, fresh, opened, session, user, wechat_session};

/// Mocks for a login that succeeds once for `code-1`, counting WeChat calls.
fn one_successful_exchange(m: &mut Mocks) {
    m.wechat
        .expect_code2session()
        .with(eq("code-1"))
        .times(1)
        .returning(|_| Ok(wechat_session()));
    m.sessions
        .expect_open_login()
        .times(1)
        .returning(|_| Ok(opened("u1", true, "s1")));
    m.users
        .expect_find_user()
        .with(eq("u1"))
        .returning(|_| Ok(Some(user("u1"))));
    m.sessions
        .expect_find_refresh_state()
        .with(eq("s1"))
        .returning(|_| Ok(Some(fresh(session("s1", "u1")))));
    m.tokens
        .expect_issue()
        .withf(|t| t.session_id == "s1" && t.expires_at == NOW + TTL)
        .returning(|_| Ok("the-token".into()));
}

#[tokio::test]
async fn a_code_submitted_twice_gets_the_first_answer_without_asking_wechat_again() {
    let mut m = Mocks::new();
    one_successful_exchange(&mut m);
    let clock = Arc::clone(&m.clock);
    let service = m.service();

    let first = service.login(None, "code-1").await.expect("first");
    clock.advance(5);
    let again = service
        .login(None, "code-1")
        .await
        .expect("replayed, not 40163");

    assert_eq!(again.session_id, first.session_id);
    assert_eq!(again.expires_at, first.expires_at);
    assert_eq!(again.expires_in, TTL - 5, "counted from now");
    assert_eq!(again.user_existed, first.user_existed, "the first answer");
    assert_eq!(again.user.id, "u1");
}

#[tokio::test]
async fn concurrent_submissions_of_one_code_make_one_upstream_call() {
    let mut m = Mocks::new();
    one_successful_exchange(&mut m);
    let service = m.service();

    let answers =
        futures_util::future::join_all((0..8).map(|_| service.login(None, "code-1"))).await;

    for answer in answers {
        assert_eq!(answer.expect("every submission succeeds").session_id, "s1");
    }
    // `times(1)` on code2session is the assertion that WeChat was asked once.
}

#[tokio::test]
async fn a_failed_exchange_is_not_replayed() {
    let mut m = Mocks::new();
    let mut attempts = mockall::Sequence::new();
    m.wechat
        .expect_code2session()
        .times(1)
        .in_sequence(&mut attempts)
        .returning(|_| Err(WeChatError::Busy));
    m.wechat
        .expect_code2session()
        .times(1)
        .in_sequence(&mut attempts)
        .returning(|_| Ok(wechat_session()));
    m.sessions
        .expect_open_login()
        .returning(|_| Ok(opened("u1", false, "s1")));
    m.tokens
        .expect_issue()
        .returning(|_| Ok("the-token".into()));
    let service = m.service();

    assert!(matches!(
        service.login(None, "code-1").await,
        Err(CoreError::WeChat(WeChatError::Busy))
    ));
    let second = service
        .login(None, "code-1")
        .await
        .expect("tried again for real");
    assert!(second.user_existed);
}

#[tokio::test]
async fn different_codes_are_exchanged_separately() {
    let mut m = Mocks::new();
    m.wechat
        .expect_code2session()
        .times(2)
        .returning(|_| Ok(wechat_session()));
    let mut n = 0;
    m.sessions.expect_open_login().times(2).returning(move |_| {
        n += 1;
        Ok(opened("u1", false, if n == 1 { "s1" } else { "s2" }))
    });
    m.tokens
        .expect_issue()
        .returning(|_| Ok("the-token".into()));
    let service = m.service();

    let a = service.login(None, "code-a").await.expect("a");
    let b = service.login(None, "code-b").await.expect("b");
    assert_ne!(a.session_id, b.session_id);
}

/// The session `s1` the first login opened is live, and its user `u1` is there.
fn the_first_login_lives(m: &mut Mocks) {
    m.sessions
        .expect_find_refresh_state()
        .returning(|_| Ok(Some(fresh(session("s1", "u1")))));
    m.users
        .expect_find_user()
        .returning(|_| Ok(Some(user("u1"))));
}

/// WeChat exchanges the code once, then says it was used (as it does for every later copy).
fn wechat_answers_once_then_says_used(m: &mut Mocks) {
    let mut calls = mockall::Sequence::new();
    m.wechat
        .expect_code2session()
        .times(1)
        .in_sequence(&mut calls)
        .returning(|_| Ok(wechat_session()));
    m.wechat
        .expect_code2session()
        .times(1)
        .in_sequence(&mut calls)
        .returning(|_| Err(WeChatError::CodeUsed));
}

/// A code's first answer is replayed within CODE_REPLAY_SECS and while its session lives; past
/// either, a copy goes to WeChat like any code, which refuses a used one.
async fn a_copy_of_a_code(after_secs: i64, session_ended: bool) -> Result<(), CoreError> {
    let mut m = Mocks::new();
    wechat_answers_once_then_says_used(&mut m);
    m.sessions
        .expect_open_login()
        .times(1)
        .returning(|_| Ok(opened("u1", true, "s1")));
    m.sessions.expect_find_refresh_state().returning(move |_| {
        Ok(Some(fresh(Session {
            revoked_at: session_ended.then_some(NOW),
            ..session("s1", "u1")
        })))
    });
    // What the store holds of the first login, as another instance would find it.
    m.sessions
        .expect_find_login_by_code()
        .returning(|_, since| {
            Ok((since <= NOW).then(|| CodeLogin {
                session: session("s1", "u1"),
                user_existed: false,
            }))
        });
    m.users
        .expect_find_user()
        .returning(|_| Ok(Some(user("u1"))));
    m.tokens.expect_issue().returning(|_| Ok("t".into()));
    let clock = Arc::clone(&m.clock);
    let service = m.service();
    service.login(None, "code-1").await.expect("first");
    clock.advance(after_secs);
    service.login(None, "code-1").await.map(|_| ())
}

/// A copy of a code that another instance exchanged: WeChat says it was used, and that
/// instance's login, found by the code's digest (on the second look: it was still being
/// written), gives the first answer again.
#[tokio::test]
async fn a_copy_of_a_code_another_instance_exchanged_gets_that_login() {
    let mut m = Mocks::new();
    m.wechat
        .expect_code2session()
        .times(1)
        .returning(|_| Err(WeChatError::CodeUsed));
    m.sessions.expect_open_login().never();
    let looks = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = Arc::clone(&looks);
    m.sessions
        .expect_find_login_by_code()
        .returning(move |digest, since| {
            assert_eq!(digest.len(), 64, "a hex SHA-256, never the code");
            assert!(!digest.contains("code-1"));
            assert_eq!(since, NOW - 10, "CODE_REPLAY_SECS back");
            let first_look = seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0;
            Ok((!first_look).then(|| CodeLogin {
                session: session("s1", "u1"),
                user_existed: false,
            }))
        });
    the_first_login_lives(&mut m);
    m.tokens
        .expect_issue()
        .times(1)
        .returning(|_| Ok("t".into()));
    let outcome = m.service().login(None, "code-1").await.expect("replayed");
    assert_eq!(
        (outcome.session_id.as_str(), outcome.user_existed),
        ("s1", false)
    );
    assert_eq!(looks.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_copy_after_the_replay_window_goes_to_wechat() {
    assert!(matches!(
        a_copy_of_a_code(11, false).await,
        Err(CoreError::WeChat(WeChatError::CodeUsed))
    ));
}

#[tokio::test]
async fn a_copy_never_hands_out_a_session_that_ended() {
    assert!(matches!(
        a_copy_of_a_code(1, true).await,
        Err(CoreError::WeChat(WeChatError::CodeUsed))
    ));
}

/// A copy of a code from another address than the first gets no replay, here or from the store
/// (where the first login's digest is bound to its address): it goes to WeChat, which refuses a
/// used code. A code seen on the way (a log, a proxy) is no way in.
#[tokio::test]
async fn a_copy_of_a_code_from_another_address_goes_to_wechat() {
    let mut m = Mocks::new();
    wechat_answers_once_then_says_used(&mut m);
    let stored = Arc::new(std::sync::Mutex::new(None::<String>));
    let keep = Arc::clone(&stored);
    m.sessions
        .expect_open_login()
        .times(1)
        .returning(move |login| {
            *keep.lock().expect("lock") = login.login_code.clone();
            Ok(opened("u1", true, "s1"))
        });
    let find = Arc::clone(&stored);
    m.sessions
        .expect_find_login_by_code()
        .returning(move |digest, _| {
            let first = find.lock().expect("lock").clone();
            Ok((first.as_deref() == Some(digest)).then(|| CodeLogin {
                session: session("s1", "u1"),
                user_existed: false,
            }))
        });
    the_first_login_lives(&mut m);
    m.tokens.expect_issue().returning(|_| Ok("t".into()));
    let clock = Arc::clone(&m.clock);
    let service = m.service();
    let first_address = Some("203.0.113.7".parse().expect("ip"));
    service
        .login_from(None, "code-1", first_address)
        .await
        .expect("first");
    clock.advance(1);
    let elsewhere = service
        .login_from(None, "code-1", Some("198.51.100.9".parse().expect("ip")))
        .await;
    assert!(
        matches!(elsewhere, Err(CoreError::WeChat(WeChatError::CodeUsed))),
        "{elsewhere:?}"
    );
    let same = service.login_from(None, "code-1", first_address).await;
    assert_eq!(
        same.expect("the first address still gets it").session_id,
        "s1"
    );
}

/// With replays off, no instance looks a code up: none is recorded.
#[tokio::test]
async fn with_code_replay_off_a_copy_in_the_same_second_goes_to_wechat() {
    let mut m = Mocks::new();
    m.settings.code_replay_secs = 0;
    wechat_answers_once_then_says_used(&mut m);
    m.sessions
        .expect_open_login()
        .withf(|login| login.login_code.is_none())
        .times(1)
        .returning(|_| Ok(opened("u1", true, "s1")));
    m.sessions.expect_find_login_by_code().never();
    m.tokens.expect_issue().returning(|_| Ok("t".into()));
    let service = m.service();
    service.login(None, "code-1").await.expect("first");
    assert!(matches!(
        service.login(None, "code-1").await,
        Err(CoreError::WeChat(WeChatError::CodeUsed))
    ));
}

/// The records of codes go once no instance can ask for them: after the replay window, with a
/// minute's margin for instances whose clocks differ; an instance with replays off (or a short
/// window) still keeps the default window's records, which other instances may ask for.
#[tokio::test]
async fn spent_login_codes_are_purged_after_the_replay_window_and_a_margin() {
    for (window, kept) in [(30, 90), (10, 70), (0, 70)] {
        let mut m = Mocks::new();
        m.settings.code_replay_secs = window;
        m.sessions
            .expect_purge_login_codes()
            .with(eq(NOW - kept))
            .times(1)
            .returning(|_| Ok(3));
        let service = m.service();
        assert_eq!(service.purge_spent_login_codes().await.expect("purged"), 3);
    }
}
