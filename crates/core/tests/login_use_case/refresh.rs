//! Refreshing: a new access token and the next refresh token for the current one; the one just
//! spent answered again; an older one ends the session; ended sessions refused.

use std::sync::{Arc, Mutex};

use mockall::predicate::eq;
use wxlogin_core::CoreError;
use wxlogin_domain::{Cause, RefreshClaim, RefreshState, Session, SessionToken, TokenError};

use crate::support::{Mocks, NOW, TTL, at, session};

const REUSE: i64 = 10;

fn state(counter: i64, refreshed_at: Option<i64>, prior: Option<i64>) -> RefreshState {
    RefreshState {
        session: session("s1", "u1"),
        counter,
        refreshed_at,
        prior_refreshed_at: prior,
        user_disabled: false,
    }
}

/// The codec reads `refresh-s1-<n>` as counter n of s1 and refuses anything else.
fn reads_refresh_tokens(m: &mut Mocks) {
    m.tokens.expect_verify_refresh().returning(|text| {
        text.strip_prefix("refresh-s1-")
            .and_then(|n| n.parse().ok())
            .map(|counter| RefreshClaim {
                session_id: "s1".into(),
                counter,
            })
            .ok_or_else(|| TokenError::Invalid(Cause::msg("forged")))
    });
    m.tokens
        .expect_issue()
        .returning(|t| Ok(format!("access-{}-{}", t.session_id, t.expires_at)));
    m.settings.access_token_ttl_secs = 600;
    m.settings.refresh_reuse_secs = REUSE;
}

/// The store holds `state`; the token given is not its current one, so nothing is moved on.
fn stored_state(m: &mut Mocks, state: RefreshState) {
    m.sessions
        .expect_rotate_refresh()
        .returning(|_, _, _| Ok(None));
    m.sessions
        .expect_find_refresh_state()
        .with(eq("s1"))
        .returning(move |_| Ok(Some(state.clone())));
}

#[tokio::test]
async fn the_current_token_is_spent_for_a_new_pair_without_asking_wechat() {
    let mut m = Mocks::new();
    reads_refresh_tokens(&mut m);
    m.sessions.expect_find_refresh_state().never();
    m.sessions
        .expect_rotate_refresh()
        .with(eq("s1"), eq(3), at(NOW))
        .times(1)
        .returning(|_, _, _| Ok(Some(session("s1", "u1"))));
    let service = m.service();
    let pair = service.refresh("refresh-s1-3").await.expect("refreshed");
    assert_eq!(pair.refresh_token, "refresh-s1-4");
    assert_eq!(pair.expires_at, NOW + 600, "an access token's own lifetime");
    assert_eq!(pair.expires_in, 600);
    assert_eq!(pair.refresh_expires_in, TTL, "until the session ends");
    assert_eq!(pair.token, format!("access-s1-{}", NOW + 600));
}

#[tokio::test]
async fn no_access_token_outlives_its_session() {
    let mut m = Mocks::new();
    reads_refresh_tokens(&mut m);
    m.sessions.expect_rotate_refresh().returning(|_, _, _| {
        Ok(Some(Session {
            expires_at: NOW + 60,
            ..session("s1", "u1")
        }))
    });
    let pair = m
        .service()
        .refresh("refresh-s1-0")
        .await
        .expect("refreshed");
    assert_eq!(pair.expires_at, NOW + 60);
    assert_eq!(pair.refresh_expires_in, 60);
}

#[tokio::test]
async fn the_token_just_spent_gets_the_current_pair_again_at_any_time() {
    // Its answer may have been lost on the way: the client still holds it.
    let mut m = Mocks::new();
    reads_refresh_tokens(&mut m);
    stored_state(&mut m, state(4, Some(NOW - 3600), Some(NOW - 7200)));
    m.sessions
        .expect_rotate_refresh()
        .returning(|_, _, _| Ok(None));
    m.sessions.expect_revoke_session().never();
    let pair = m.service().refresh("refresh-s1-3").await.expect("again");
    assert_eq!(pair.refresh_token, "refresh-s1-4");
}

#[tokio::test]
async fn the_token_before_that_is_answered_within_the_reuse_window_only() {
    let mut within = Mocks::new();
    reads_refresh_tokens(&mut within);
    stored_state(&mut within, state(4, Some(NOW - 2), Some(NOW - REUSE)));
    within.sessions.expect_revoke_session().never();
    let pair = within
        .service()
        .refresh("refresh-s1-2")
        .await
        .expect("again");
    assert_eq!(pair.refresh_token, "refresh-s1-4");

    let mut later = Mocks::new();
    reads_refresh_tokens(&mut later);
    stored_state(&mut later, state(4, Some(NOW - 2), Some(NOW - REUSE - 1)));
    later
        .sessions
        .expect_revoke_session()
        .with(eq("s1"), at(NOW))
        .times(1)
        .returning(|_, _| Ok(true));
    assert!(matches!(
        later.service().refresh("refresh-s1-2").await,
        Err(CoreError::RefreshTokenReused)
    ));
}

#[tokio::test]
async fn an_older_token_is_a_theft_signal_and_ends_the_session() {
    let mut m = Mocks::new();
    reads_refresh_tokens(&mut m);
    stored_state(&mut m, state(9, Some(NOW - 1), Some(NOW - 2)));
    let revoked = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&revoked);
    m.sessions.expect_revoke_session().returning(move |id, _| {
        seen.lock().expect("lock").push(id.to_owned());
        Ok(true)
    });
    let result = m.service().refresh("refresh-s1-1").await;
    assert!(matches!(result, Err(CoreError::RefreshTokenReused)));
    assert_eq!(*revoked.lock().expect("lock"), ["s1"]);
}

#[tokio::test]
async fn a_token_the_session_never_reached_ends_it_too() {
    // Only a holder of the server's secret makes one: guessing ends the session.
    let mut m = Mocks::new();
    reads_refresh_tokens(&mut m);
    stored_state(&mut m, state(3, Some(NOW - 1), None));
    m.sessions
        .expect_revoke_session()
        .with(eq("s1"), at(NOW))
        .times(1)
        .returning(|_, _| Ok(true));
    assert!(matches!(
        m.service().refresh("refresh-s1-7").await,
        Err(CoreError::RefreshTokenReused)
    ));
}

#[tokio::test]
async fn of_two_refreshes_racing_the_loser_gets_the_winners_pair() {
    let mut m = Mocks::new();
    reads_refresh_tokens(&mut m);
    // Another refresh of the same token moved the counter on first.
    m.sessions
        .expect_rotate_refresh()
        .times(1)
        .returning(|_, _, _| Ok(None));
    m.sessions
        .expect_find_refresh_state()
        .times(1)
        .returning(|_| Ok(Some(state(6, Some(NOW), None))));
    let pair = m
        .service()
        .refresh("refresh-s1-5")
        .await
        .expect("refreshed");
    assert_eq!(pair.refresh_token, "refresh-s1-6");
}

/// What the store holds, the token sent, and whether the error is the expected one.
type Case = (Option<RefreshState>, &'static str, fn(&CoreError) -> bool);

#[tokio::test]
async fn ended_expired_deleted_and_forged_are_refused_with_their_kind() {
    let cases: [Case; 4] = [
        (
            Some(RefreshState {
                session: Session {
                    revoked_at: Some(NOW - 1),
                    ..session("s1", "u1")
                },
                ..state(0, None, None)
            }),
            "refresh-s1-0",
            |e| matches!(e, CoreError::SessionRevoked),
        ),
        (
            Some(RefreshState {
                session: Session {
                    expires_at: NOW - 1,
                    ..session("s1", "u1")
                },
                ..state(0, None, None)
            }),
            "refresh-s1-0",
            |e| matches!(e, CoreError::TokenExpired),
        ),
        // Deleted with its account: no session any more.
        (None, "refresh-s1-0", |e| {
            matches!(e, CoreError::SessionRevoked)
        }),
        (Some(state(0, None, None)), "forged", |e| {
            matches!(e, CoreError::RefreshTokenInvalid(_))
        }),
    ];
    for (stored, token, expected) in cases {
        let mut m = Mocks::new();
        reads_refresh_tokens(&mut m);
        m.sessions
            .expect_rotate_refresh()
            .returning(|_, _, _| Ok(None));
        m.sessions
            .expect_find_refresh_state()
            .returning(move |_| Ok(stored.clone()));
        let error = m.service().refresh(token).await.expect_err("refused");
        assert!(expected(&error), "{token}: {error:?}");
    }
}

#[tokio::test]
async fn a_verified_token_is_not_verified_again_but_its_session_is_still_checked() {
    let mut m = Mocks::new();
    m.settings.verified_token_bytes = 1 << 20;
    m.settings.session_cache = std::time::Duration::ZERO;
    m.tokens.expect_verify().times(1).returning(|_| {
        Ok(SessionToken {
            user_id: "u1".into(),
            session_id: "s1".into(),
            appid: "wxapp".into(),
            expires_at: NOW + 600,
        })
    });
    let mut reads = mockall::Sequence::new();
    m.sessions
        .expect_find_session_with_user()
        .times(1)
        .in_sequence(&mut reads)
        .returning(|_| {
            Ok(Some((
                session("s1", "u1"),
                Some(crate::support::user("u1")),
            )))
        });
    m.sessions
        .expect_find_session_with_user()
        .times(1)
        .in_sequence(&mut reads)
        .returning(|_| {
            Ok(Some((
                Session {
                    revoked_at: Some(NOW),
                    ..session("s1", "u1")
                },
                None,
            )))
        });
    let service = m.service();
    service.authenticate("t").await.expect("first");
    assert!(matches!(
        service.authenticate("t").await,
        Err(CoreError::SessionRevoked)
    ));
}
