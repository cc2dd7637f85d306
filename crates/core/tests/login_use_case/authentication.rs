//! Authenticating a request: a valid token of a live session names the caller; every other
//! token or session is refused, each for its own reason.

use mockall::predicate::eq;
use wxlogin_core::CoreError;
use wxlogin_domain::{Session, StoreError, TokenError};

use crate::support::{Mocks, NOW, session, user};

#[tokio::test]
async fn a_valid_token_with_a_live_session_names_the_caller() {
    let mut m = Mocks::new();
    m.token_for("s1", "u1");
    m.sessions
        .expect_find_session_with_user()
        .with(eq("s1"))
        .times(1)
        .returning(|_| Ok(Some((session("s1", "u1"), Some(user("u1"))))));
    let caller = m
        .service()
        .authenticate("the-token")
        .await
        .expect("authenticated");
    assert_eq!(
        (caller.user.id.as_str(), caller.session_id.as_str()),
        ("u1", "s1")
    );
}

#[tokio::test]
async fn an_invalid_or_expired_token_is_refused_without_a_database_query() {
    for (error, expected_expired) in [
        (TokenError::Expired, true),
        (TokenError::Invalid("bad".into()), false),
    ] {
        let mut m = Mocks::new();
        let returned = error.clone();
        m.tokens
            .expect_verify()
            .times(1)
            .returning(move |_| Err(returned.clone()));
        m.sessions.expect_find_session_with_user().never();
        let result = m.service().authenticate("the-token").await;
        if expected_expired {
            assert!(matches!(result, Err(CoreError::TokenExpired)), "{result:?}");
        } else {
            assert!(
                matches!(result, Err(CoreError::TokenInvalid(_))),
                "{result:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_revoked_session_is_refused_as_revoked() {
    let mut m = Mocks::new();
    m.token_for("s1", "u1");
    m.stored(
        Session {
            revoked_at: Some(NOW),
            ..session("s1", "u1")
        },
        Some(user("u1")),
    );
    assert!(matches!(
        m.service().authenticate("the-token").await,
        Err(CoreError::SessionRevoked)
    ));
}

#[tokio::test]
async fn a_session_expired_in_the_store_is_refused_as_expired() {
    let mut m = Mocks::new();
    m.token_for("s1", "u1");
    m.stored(
        Session {
            expires_at: NOW - 1,
            ..session("s1", "u1")
        },
        Some(user("u1")),
    );
    assert!(matches!(
        m.service().authenticate("the-token").await,
        Err(CoreError::TokenExpired)
    ));
}

#[tokio::test]
async fn a_purged_session_is_refused_as_ended() {
    let mut m = Mocks::new();
    m.token_for("s1", "u1");
    m.sessions
        .expect_find_session_with_user()
        .times(1)
        .returning(|_| Ok(None));
    assert!(matches!(
        m.service().authenticate("the-token").await,
        Err(CoreError::SessionRevoked)
    ));
}

#[tokio::test]
async fn a_token_naming_someone_elses_session_is_invalid() {
    let mut m = Mocks::new();
    m.token_for("s1", "intruder");
    m.stored(session("s1", "u1"), Some(user("u1")));
    assert!(matches!(
        m.service().authenticate("the-token").await,
        Err(CoreError::TokenInvalid(_))
    ));
}

#[tokio::test]
async fn a_database_failure_while_authenticating_is_a_store_error() {
    let mut m = Mocks::new();
    m.token_for("s1", "u1");
    m.sessions
        .expect_find_session_with_user()
        .times(1)
        .returning(|_| Err(StoreError::Unavailable("down".into())));
    assert!(matches!(
        m.service().authenticate("the-token").await,
        Err(CoreError::Store(_))
    ));
}
