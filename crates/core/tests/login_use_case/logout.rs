//! Ending sessions: logout, logout everywhere, and purging sessions a while after they end.

use mockall::predicate::eq;

use crate::support::{APP, Mocks, NOW, at, caller_in_app, user};

#[tokio::test]
async fn logout_revokes_the_callers_session_at_the_current_time() {
    let mut m = Mocks::new();
    m.clock.advance(42);
    m.sessions
        .expect_revoke_session()
        .with(eq("s1"), at(NOW + 42))
        .times(1)
        .returning(|_, _| Ok(true));
    let caller = wxlogin_core::Caller {
        user: user("u1"),
        session_id: "s1".into(),
        appid: APP.into(),
        client: None,
    };
    m.service().logout(&caller).await.expect("logout");
}

#[tokio::test]
async fn logout_everywhere_ends_every_session_of_the_account() {
    let mut m = Mocks::new();
    m.sessions
        .expect_revoke_all_sessions()
        .with(eq("u1"), at(NOW))
        .times(1)
        .returning(|_, _| Ok(vec!["s1".into(), "s2".into()]));
    m.sessions.expect_revoke_session().never();
    m.service()
        .logout_everywhere(&caller_in_app())
        .await
        .expect("logged out everywhere");
}

#[tokio::test]
async fn ended_sessions_are_purged_a_while_after_they_end() {
    let mut m = Mocks::new();
    m.sessions
        .expect_purge_sessions()
        .with(eq(NOW - 86_400))
        .times(1)
        .returning(|_| Ok(3));
    assert_eq!(
        m.service()
            .purge_ended_sessions(86_400)
            .await
            .expect("purged"),
        3
    );
}
