//! The login use case against mocks of its three boundaries.

use std::sync::Arc;

use mockall::predicate::eq;
use wxlogin_core::{CoreError, LoginService, LoginSettings, MAX_CODE_LEN, ProfileEdit};
use wxlogin_domain::{
    CodeLogin, ManualClock, MockAccessTokenStore, MockSessionStore, MockTokenCodec, MockUserStore,
    MockWeChatApi, OpenId, OpenedLogin, Session, SessionKey, SessionToken, StoreError, TokenError,
    User, WeChatError, WeChatSession,
};

const NOW: i64 = 1_800_000_000;
const TTL: i64 = 3600;

/// The one mini program these cases log in through.
const APP: &str = "wxapp";

fn user(id: &str) -> User {
    User {
        id: id.into(),
        unionid: None,
        nick_name: None,
        avatar_url: None,
        gender: None,
        phone_number: None,
        apps: vec![APP.into()],
        created_at: NOW,
        updated_at: NOW,
    }
}

fn session(id: &str, user_id: &str) -> Session {
    Session {
        id: id.into(),
        user_id: user_id.into(),
        appid: APP.into(),
        created_at: NOW,
        expires_at: NOW + TTL,
        revoked_at: None,
    }
}

fn opened(user_id: &str, created: bool, session_id: &str) -> OpenedLogin {
    OpenedLogin {
        user: user(user_id),
        created,
        session: session(session_id, user_id),
        merged: None,
    }
}

fn wechat_session() -> WeChatSession {
    WeChatSession {
        openid: OpenId::new("openid-1"),
        session_key: SessionKey::new("key"),
        unionid: None,
    }
}

struct Mocks {
    wechat: MockWeChatApi,
    users: MockUserStore,
    sessions: MockSessionStore,
    access_tokens: MockAccessTokenStore,
    tokens: MockTokenCodec,
    clock: Arc<ManualClock>,
    settings: LoginSettings,
}

impl Mocks {
    fn new() -> Self {
        Self {
            wechat: MockWeChatApi::new(),
            users: MockUserStore::new(),
            sessions: MockSessionStore::new(),
            // Login and authentication never need the access token: a mock expecting nothing.
            access_tokens: MockAccessTokenStore::new(),
            tokens: MockTokenCodec::new(),
            clock: Arc::new(ManualClock::new(NOW)),
            settings: LoginSettings {
                session_ttl_secs: TTL,
                ..LoginSettings::default()
            },
        }
    }

    fn service(mut self) -> Arc<LoginService> {
        self.wechat.expect_appid().return_const(APP.to_owned());
        LoginService::builder()
            .wechat(Arc::new(self.wechat))
            .users(Arc::new(self.users))
            .sessions(Arc::new(self.sessions))
            .access_tokens(Arc::new(self.access_tokens))
            .tokens(Arc::new(self.tokens))
            .clock(self.clock)
            .settings(self.settings)
            .build()
            .expect("every port given")
    }

    fn token_for(&mut self, session_id: &'static str, user_id: &'static str) {
        self.tokens
            .expect_verify()
            .with(eq("the-token"))
            .times(1)
            .returning(move |_| {
                Ok(SessionToken {
                    user_id: user_id.into(),
                    session_id: session_id.into(),
                    expires_at: NOW + TTL,
                })
            });
    }
}

#[tokio::test]
async fn a_first_login_creates_the_user_opens_a_session_and_issues_a_token_expiring_with_it() {
    let mut m = Mocks::new();
    m.wechat
        .expect_code2session()
        .with(eq("code-1"))
        .times(1)
        .returning(|_| Ok(wechat_session()));
    m.sessions
        .expect_open_login()
        .withf(|l| {
            l.appid == APP
                && l.openid.expose() == "openid-1"
                && l.unionid.is_none()
                && l.session_key.expose() == "key"
                && l.created_at == NOW
                && l.expires_at == NOW + TTL
        })
        .times(1)
        .returning(|_| Ok(opened("u1", true, "s1")));
    m.tokens
        .expect_issue()
        .with(eq(SessionToken {
            user_id: "u1".into(),
            session_id: "s1".into(),
            expires_at: NOW + TTL,
        }))
        .times(1)
        .returning(|_| Ok("the-token".into()));

    let outcome = m.service().login(None, "code-1").await.expect("login");

    assert_eq!(outcome.token, "the-token");
    assert_eq!((outcome.expires_at, outcome.expires_in), (NOW + TTL, TTL));
    assert!(!outcome.user_existed);
    assert_eq!(outcome.user.id, "u1");
}

#[tokio::test]
async fn a_returning_user_is_told_the_account_existed() {
    let mut m = Mocks::new();
    m.wechat
        .expect_code2session()
        .times(1)
        .returning(|_| Ok(wechat_session()));
    m.sessions
        .expect_open_login()
        .times(1)
        .returning(|_| Ok(opened("u1", false, "s2")));
    m.tokens
        .expect_issue()
        .times(1)
        .returning(|_| Ok("t".into()));
    assert!(
        m.service()
            .login(None, "code-2")
            .await
            .expect("login")
            .user_existed
    );
}

#[tokio::test]
async fn a_malformed_code_is_refused_without_asking_wechat() {
    let long = "a".repeat(129);
    for code in ["", " ", "has space", "tab\t", "中文", long.as_str()] {
        let mut m = Mocks::new();
        m.wechat.expect_code2session().never();
        m.sessions.expect_open_login().never();
        assert!(
            matches!(
                m.service().login(None, code).await,
                Err(CoreError::MalformedCode)
            ),
            "{code:?}"
        );
    }
}

#[tokio::test]
async fn a_code_wechat_rejects_creates_no_user_and_no_session() {
    for error in [
        WeChatError::InvalidCode,
        WeChatError::CodeUsed,
        WeChatError::RateLimited,
        WeChatError::RiskyUser,
        WeChatError::Busy,
        WeChatError::BadCredentials { errcode: 40125 },
        WeChatError::Api {
            errcode: 40001,
            errmsg: "x".into(),
        },
        WeChatError::InvalidResponse("garbage".into()),
        WeChatError::Unavailable("refused".into()),
        WeChatError::Timeout,
    ] {
        let mut m = Mocks::new();
        let returned = error.clone();
        m.wechat
            .expect_code2session()
            .times(1)
            .returning(move |_| Err(returned.clone()));
        m.sessions.expect_open_login().never();
        // A used code is looked for among other instances' logins: none here.
        m.sessions
            .expect_find_login_by_code()
            .returning(|_, _| Ok(None));
        m.tokens.expect_issue().never();
        match m.service().login(None, "code").await {
            Err(CoreError::WeChat(got)) => assert_eq!(got, error),
            other => panic!("{error:?} gave {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_store_failure_during_login_issues_no_token() {
    let mut m = Mocks::new();
    m.wechat
        .expect_code2session()
        .times(1)
        .returning(|_| Ok(wechat_session()));
    m.sessions
        .expect_open_login()
        .times(1)
        .returning(|_| Err(StoreError::Unavailable("down".into())));
    m.tokens.expect_issue().never();
    assert!(matches!(
        m.service().login(None, "code").await,
        Err(CoreError::Store(StoreError::Unavailable(_)))
    ));
}

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
    m.sessions
        .expect_find_session_with_user()
        .times(1)
        .returning(|_| {
            let revoked = Session {
                revoked_at: Some(NOW),
                ..session("s1", "u1")
            };
            Ok(Some((revoked, Some(user("u1")))))
        });
    assert!(matches!(
        m.service().authenticate("the-token").await,
        Err(CoreError::SessionRevoked)
    ));
}

#[tokio::test]
async fn a_session_expired_in_the_store_is_refused_as_expired() {
    let mut m = Mocks::new();
    m.token_for("s1", "u1");
    m.sessions
        .expect_find_session_with_user()
        .times(1)
        .returning(|_| {
            let expired = Session {
                expires_at: NOW - 1,
                ..session("s1", "u1")
            };
            Ok(Some((expired, Some(user("u1")))))
        });
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
    m.sessions
        .expect_find_session_with_user()
        .times(1)
        .returning(|_| Ok(Some((session("s1", "u1"), Some(user("u1"))))));
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

#[tokio::test]
async fn logout_revokes_the_callers_session_at_the_current_time() {
    let mut m = Mocks::new();
    m.clock.advance(42);
    m.sessions
        .expect_revoke_session()
        .with(eq("s1"), eq(NOW + 42))
        .times(1)
        .returning(|_, _| Ok(true));
    let caller = wxlogin_core::Caller {
        user: user("u1"),
        session_id: "s1".into(),
        appid: APP.into(),
    };
    m.service().logout(&caller).await.expect("logout");
}

#[tokio::test]
async fn a_profile_edit_is_validated_before_the_store_sees_it() {
    let mut m = Mocks::new();
    m.users.expect_update_profile().never();
    let caller = wxlogin_core::Caller {
        user: user("u1"),
        session_id: "s1".into(),
        appid: APP.into(),
    };
    let edit = ProfileEdit {
        avatar_url: Some(Some("javascript:alert(1)".into())),
        ..ProfileEdit::default()
    };
    assert!(matches!(
        m.service().update_profile(&caller, edit).await,
        Err(CoreError::InvalidProfile(_))
    ));
}

#[tokio::test]
async fn a_valid_profile_edit_reaches_the_store_and_returns_the_new_profile() {
    let mut m = Mocks::new();
    m.users
        .expect_update_profile()
        .withf(|id, update, now| {
            id == "u1" && update.nick_name == Some(Some("小明".into())) && *now == NOW
        })
        .times(1)
        .returning(|_, _, _| {
            Ok(Some(User {
                nick_name: Some("小明".into()),
                ..user("u1")
            }))
        });
    let caller = wxlogin_core::Caller {
        user: user("u1"),
        session_id: "s1".into(),
        appid: APP.into(),
    };
    let edit = ProfileEdit {
        nick_name: Some(Some("小明".into())),
        ..ProfileEdit::default()
    };
    let updated = m
        .service()
        .update_profile(&caller, edit)
        .await
        .expect("updated");
    assert_eq!(updated.nick_name.as_deref(), Some("小明"));
}

#[tokio::test]
async fn an_empty_profile_edit_touches_nothing() {
    let mut m = Mocks::new();
    m.users.expect_update_profile().never();
    let caller = wxlogin_core::Caller {
        user: user("u1"),
        session_id: "s1".into(),
        appid: APP.into(),
    };
    let same = m
        .service()
        .update_profile(&caller, ProfileEdit::default())
        .await
        .expect("ok");
    assert_eq!(same, user("u1"));
}

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
        .expect_find_session()
        .with(eq("s1"))
        .returning(|_| Ok(Some(session("s1", "u1"))));
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

// The session cache: a session read once is trusted for the window without the store, and
// every check the store path makes still holds on a hit.

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
        .with(eq("s1"), eq(NOW))
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

#[test]
fn a_service_cannot_be_built_without_its_ports() {
    let missing = LoginService::builder()
        .wechat(Arc::new(MockWeChatApi::new()))
        .build();
    assert!(
        matches!(missing, Err(wxlogin_core::BuildError::Missing(_))),
        "{missing:?}"
    );
}

#[test]
fn the_service_is_send_and_sync() {
    fn shared_across_threads<T: Send + Sync>() {}
    shared_across_threads::<LoginService>();
    shared_across_threads::<Arc<LoginService>>();
}

#[tokio::test]
async fn a_login_for_an_app_not_served_is_refused_without_asking_wechat() {
    let mut m = Mocks::new();
    m.wechat.expect_code2session().never();
    m.sessions.expect_open_login().never();
    let service = m.service();
    assert!(matches!(
        service.login(Some("wx-elsewhere"), "code").await,
        Err(CoreError::UnknownApp(Some(appid))) if appid == "wx-elsewhere"
    ));
}

#[tokio::test]
async fn with_several_apps_a_login_must_name_its_app() {
    let mut shop = MockWeChatApi::new();
    shop.expect_appid().return_const("wxshop".to_owned());
    shop.expect_code2session().never();
    let mut club = MockWeChatApi::new();
    club.expect_appid().return_const("wxclub".to_owned());
    club.expect_code2session()
        .with(eq("code"))
        .times(1)
        .returning(|_| Ok(wechat_session()));
    let mut sessions = MockSessionStore::new();
    sessions
        .expect_open_login()
        .withf(|l| l.appid == "wxclub")
        .times(1)
        .returning(|_| Ok(opened("u1", true, "s1")));
    let mut tokens = MockTokenCodec::new();
    tokens.expect_issue().returning(|_| Ok("t".into()));
    let service = LoginService::builder()
        .wechat(Arc::new(shop))
        .wechat(Arc::new(club))
        .users(Arc::new(MockUserStore::new()))
        .sessions(Arc::new(sessions))
        .access_tokens(Arc::new(MockAccessTokenStore::new()))
        .tokens(Arc::new(tokens))
        .build()
        .expect("built");
    assert_eq!(service.appids().collect::<Vec<_>>(), ["wxclub", "wxshop"]);
    assert!(matches!(
        service.login(None, "code").await,
        Err(CoreError::UnknownApp(None))
    ));
    service
        .login(Some("wxclub"), "code")
        .await
        .expect("club login");
}

#[test]
fn two_clients_for_one_app_are_refused() {
    let twin = || {
        let mut wechat = MockWeChatApi::new();
        wechat.expect_appid().return_const("wxsame".to_owned());
        Arc::new(wechat)
    };
    let built = LoginService::builder()
        .wechat(twin())
        .wechat(twin())
        .users(Arc::new(MockUserStore::new()))
        .sessions(Arc::new(MockSessionStore::new()))
        .access_tokens(Arc::new(MockAccessTokenStore::new()))
        .tokens(Arc::new(MockTokenCodec::new()))
        .build();
    assert!(matches!(built, Err(wxlogin_core::BuildError::DuplicateApp(a)) if a == "wxsame"));
}

// Account deletion: re-authenticated by a fresh code of the same person, or nothing happens.

fn caller_in_app() -> wxlogin_core::Caller {
    wxlogin_core::Caller {
        user: user("u1"),
        session_id: "s1".into(),
        appid: APP.into(),
    }
}

#[tokio::test]
async fn an_account_is_deleted_when_a_fresh_code_proves_it_is_its_owner() {
    let mut m = Mocks::new();
    m.wechat
        .expect_code2session()
        .with(eq("fresh"))
        .times(1)
        .returning(|_| Ok(wechat_session()));
    m.users
        .expect_openid()
        .with(eq("u1"), eq(APP))
        .times(1)
        .returning(|_, _| Ok(Some(OpenId::new("openid-1"))));
    m.users
        .expect_delete_account()
        .with(eq("u1"), eq(APP), eq(OpenId::new("openid-1")))
        .times(1)
        .returning(|_, _, _| {
            Ok(Some(wxlogin_domain::Deletion {
                user_id: "u1".into(),
                account_deleted: true,
                ended_sessions: vec!["s1".into()],
            }))
        });
    m.service()
        .delete_account(&caller_in_app(), "fresh")
        .await
        .expect("deleted");
}

#[tokio::test]
async fn a_code_of_someone_else_or_a_rejected_one_deletes_nothing() {
    for (returned, label) in [
        (
            Ok(WeChatSession {
                openid: OpenId::new("another-person"),
                ..wechat_session()
            }),
            "another person's code",
        ),
        (Err(WeChatError::InvalidCode), "a rejected code"),
        (Err(WeChatError::CodeUsed), "a used code"),
    ] {
        let mut m = Mocks::new();
        m.wechat
            .expect_code2session()
            .times(1)
            .returning(move |_| returned.clone());
        m.users
            .expect_openid()
            .returning(|_, _| Ok(Some(OpenId::new("openid-1"))));
        m.users.expect_delete_account().never();
        let result = m.service().delete_account(&caller_in_app(), "code").await;
        assert!(
            matches!(result, Err(CoreError::ReauthFailed(_))),
            "{label}: {result:?}"
        );
    }
}

#[tokio::test]
async fn a_deletion_code_is_checked_as_a_login_code_is_before_wechat_is_asked() {
    for code in ["", "has space", &"x".repeat(MAX_CODE_LEN + 1)] {
        let mut m = Mocks::new();
        m.wechat.expect_code2session().never();
        m.users.expect_delete_account().never();
        let result = m.service().delete_account(&caller_in_app(), code).await;
        assert!(
            matches!(result, Err(CoreError::MalformedCode)),
            "{code:?}: {result:?}"
        );
    }
}

#[tokio::test]
async fn deletion_attempts_count_against_the_accounts_user_data_calls() {
    let mut m = Mocks::new();
    m.settings.user_rate_limit = 2;
    m.wechat
        .expect_code2session()
        .times(2)
        .returning(|_| Err(WeChatError::InvalidCode));
    m.users.expect_delete_account().never();
    let service = m.service();
    for _ in 0..2 {
        assert!(matches!(
            service.delete_account(&caller_in_app(), "guess").await,
            Err(CoreError::ReauthFailed(_))
        ));
    }
    assert!(
        matches!(
            service.delete_account(&caller_in_app(), "guess").await,
            Err(CoreError::UserRateLimited)
        ),
        "the third attempt in a minute costs WeChat nothing"
    );
}

#[tokio::test]
async fn wechat_being_down_is_not_a_failed_reauthentication() {
    let mut m = Mocks::new();
    m.wechat
        .expect_code2session()
        .times(1)
        .returning(|_| Err(WeChatError::Busy));
    m.users.expect_delete_account().never();
    assert!(matches!(
        m.service().delete_account(&caller_in_app(), "code").await,
        Err(CoreError::WeChat(WeChatError::Busy))
    ));
}

#[tokio::test]
async fn logout_everywhere_ends_every_session_of_the_account() {
    let mut m = Mocks::new();
    m.sessions
        .expect_revoke_all_sessions()
        .with(eq("u1"), eq(NOW))
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

#[tokio::test]
async fn an_account_spends_at_most_its_user_rate_limit_of_wechat_calls() {
    let mut m = Mocks::new();
    m.settings.user_rate_limit = 3;
    m.access_tokens.expect_load_access_token().returning(|_| {
        Ok(Some(wxlogin_domain::StoredAccessToken {
            token: wxlogin_domain::AccessToken::new("AT"),
            use_until: NOW + 3600,
            fetches: 1,
        }))
    });
    m.wechat.expect_phone_number().times(3).returning(|_, _| {
        Ok(wxlogin_domain::PhoneInfo {
            phone_number: "13800138000".into(),
            pure_phone_number: "13800138000".into(),
            country_code: "86".into(),
        })
    });
    m.users
        .expect_update_profile()
        .times(3)
        .returning(|_, _, _| Ok(Some(user("u1"))));
    let service = m.service();
    for _ in 0..3 {
        service
            .bind_phone_number(&caller_in_app(), "13800138000")
            .await
            .expect("within the limit");
    }
    assert!(matches!(
        service
            .bind_phone_number(&caller_in_app(), "13800138000")
            .await,
        Err(CoreError::UserRateLimited)
    ));
    // `times(3)` on phone_number: the fourth call never reached WeChat.
}

/// The session `s1` the first login opened is live, and its user `u1` is there.
fn the_first_login_lives(m: &mut Mocks) {
    m.sessions
        .expect_find_session()
        .returning(|_| Ok(Some(session("s1", "u1"))));
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
    m.sessions.expect_find_session().returning(move |_| {
        Ok(Some(Session {
            revoked_at: session_ended.then_some(NOW),
            ..session("s1", "u1")
        }))
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

#[tokio::test]
async fn with_code_replay_off_a_copy_in_the_same_second_goes_to_wechat() {
    let mut m = Mocks::new();
    m.settings.code_replay_secs = 0;
    wechat_answers_once_then_says_used(&mut m);
    m.sessions
        .expect_open_login()
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
