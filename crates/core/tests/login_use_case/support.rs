//! The mocks of the use case's boundaries, and the user, session and WeChat answer they
//! return.

use std::sync::Arc;

use mockall::predicate::eq;
use wxlogin_core::{LoginService, LoginSettings};
use wxlogin_domain::{
    ManualClock, MockAccessTokenStore, MockSessionStore, MockTokenCodec, MockUserStore,
    MockWeChatApi, OpenId, OpenedLogin, Session, SessionKey, SessionToken, User, WeChatSession,
};

pub(crate) const NOW: i64 = 1_800_000_000;
pub(crate) const TTL: i64 = 3600;

/// The one mini program these cases log in through.
pub(crate) const APP: &str = "wxapp";

pub(crate) fn user(id: &str) -> User {
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
        disabled_at: None,
        disabled_reason: None,
    }
}

pub(crate) fn session(id: &str, user_id: &str) -> Session {
    Session {
        id: id.into(),
        user_id: user_id.into(),
        appid: APP.into(),
        created_at: NOW,
        expires_at: NOW + TTL,
        revoked_at: None,
    }
}

pub(crate) fn opened(user_id: &str, created: bool, session_id: &str) -> OpenedLogin {
    OpenedLogin {
        user: user(user_id),
        created,
        session: session(session_id, user_id),
        merged: None,
    }
}

pub(crate) fn wechat_session() -> WeChatSession {
    WeChatSession {
        openid: OpenId::new("openid-1"),
        session_key: SessionKey::new("key"),
        unionid: None,
    }
}

pub(crate) struct Mocks {
    pub(crate) wechat: MockWeChatApi,
    pub(crate) users: MockUserStore,
    pub(crate) sessions: MockSessionStore,
    pub(crate) access_tokens: MockAccessTokenStore,
    pub(crate) tokens: MockTokenCodec,
    pub(crate) clock: Arc<ManualClock>,
    pub(crate) settings: LoginSettings,
}

impl Mocks {
    pub(crate) fn new() -> Self {
        Self {
            wechat: MockWeChatApi::new(),
            users: MockUserStore::new(),
            sessions: MockSessionStore::new(),
            // Login and authentication never need the access token: a mock expecting nothing.
            access_tokens: MockAccessTokenStore::new(),
            tokens: {
                let mut tokens = MockTokenCodec::new();
                // Refresh tokens name their session and counter; the refresh cases say more.
                tokens.expect_issue_refresh().returning(|claim| {
                    Ok(format!("refresh-{}-{}", claim.session_id, claim.counter))
                });
                tokens
            },
            clock: Arc::new(ManualClock::new(NOW)),
            settings: LoginSettings {
                session_ttl_secs: TTL,
                // As long as the session, unless a case says otherwise.
                access_token_ttl_secs: TTL,
                // Every token verified by the codec, so that cases say what it answers each
                // time; `refresh.rs` has the cases of the cache.
                verified_token_bytes: 0,
                ..LoginSettings::default()
            },
        }
    }

    pub(crate) fn service(self) -> Arc<LoginService> {
        self.builder().build().expect("every port given")
    }

    /// The builder with every mock given, for cases that add to it (media, content checks).
    pub(crate) fn builder(mut self) -> wxlogin_core::LoginServiceBuilder {
        self.wechat.expect_appid().return_const(APP.to_owned());
        LoginService::builder()
            .wechat(Arc::new(self.wechat))
            .users(Arc::new(self.users))
            .sessions(Arc::new(self.sessions))
            .access_tokens(Arc::new(self.access_tokens))
            .tokens(Arc::new(self.tokens))
            .clock(self.clock)
            .settings(self.settings)
    }

    /// The store holds `session` (and `user`, if any), read once.
    pub(crate) fn stored(&mut self, session: Session, user: Option<User>) {
        self.sessions
            .expect_find_session_with_user()
            .times(1)
            .returning(move |_| Ok(Some((session.clone(), user.clone()))));
    }

    pub(crate) fn token_for(&mut self, session_id: &'static str, user_id: &'static str) {
        self.tokens
            .expect_verify()
            .with(eq("the-token"))
            .times(1)
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

pub(crate) fn caller_in_app() -> wxlogin_core::Caller {
    wxlogin_core::Caller {
        user: user("u1"),
        session_id: "s1".into(),
        appid: APP.into(),
        client: None,
    }
}

/// Where the refresh tokens of `session` stand: none used yet.
pub(crate) fn fresh(session: Session) -> wxlogin_domain::RefreshState {
    wxlogin_domain::RefreshState {
        session,
        counter: 0,
        refreshed_at: None,
        prior_refreshed_at: None,
        user_disabled: false,
    }
}

/// An audit note made at `t` (what the store stamps the change with).
pub(crate) fn at(t: i64) -> impl mockall::Predicate<wxlogin_domain::Audit> + Send + Sync {
    mockall::predicate::function(move |audit: &wxlogin_domain::Audit| audit.at == t)
}
