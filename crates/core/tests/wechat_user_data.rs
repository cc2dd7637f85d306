//! Open data, phone numbers and the shared access token: the use case on a real database (SQLite
//! and PostgreSQL), with WeChat mocked.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use mockall::predicate::eq;
use sha1::{Digest, Sha1};
use wxlogin_core::{Caller, CoreError, LoginService, UserInfoData};
use wxlogin_domain::{
    AccessToken, AccessTokenStore, ManualClock, MockWeChatApi, OpenId, PhoneInfo, SessionKey,
    StableToken, UserStore, WeChatError, WeChatSession,
};
use wxlogin_token::{JwtCodec, TokenConfig};
use wxlogin_user_store::testing::{TestDatabase, test_sealer};
use wxlogin_user_store::{DieselStore, PoolOptions};

const NOW: i64 = 1_800_000_000;
/// V1 of the WeChat facts: WeChat's decrypt demo.
const V1_APPID: &str = "wx4f4bc4dec97d474b";
const V1_KEY: &str = "tiihtNczf5v6AKRyjwEUhQ==";
const V1_OPENID: &str = "oGZUI0egBJY1zhBYw2KhdUfwVJJE";
const V1_IV: &str = "r7BXXKkLb8qrSNn05n0qiA==";
const V1_DATA: &str = "CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDcvSnxIMXFufNstNGTyaGS9uT5geRa0W4oTOb1WT7fJlAC+oNPdbB+3hVbJSRgv+4lGOETKUQz6OYStslQ142dNCuabNPGBzlooOmB231qMM85d2/fV6ChevvXvQP8Hkue1poOFtnEtpyxVLW1zAo6/1Xx1COxFvrc2d7UL/lmHInNlxuacJXwu0fjpXfz/YqYzBIBzD6WUfTIF9GRHpOn/Hz7saL8xz+W//FRAUid1OksQaQx4CMs8LOddcQhULW4ucetDf96JcR3g0gfRK4PC7E/r7Z6xNrXd2UIeorGj5Ef7b1pJAYB6Y5anaHqZ9J6nKEBvB4DnNLIVWSgARns/8wR2SiRS7MNACwTyrGvt9ts8p12PKFdlqYTopNHR1Vf7XjfhQlVsAJdNiKdYmYVoKlaRv85IfVunYzO0IKXsyl7JCUjCpoG20f0a04COwfneQAGGwd5oa+T8yO5hzuyDb/XcxxmK01EpqOyuxINew==";
/// D3: V1's plaintext with another appid in its watermark, under V1's key and iv.
const D3_DATA: &str = "CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDcvSnxIMXFufNstNGTyaGS9uT5geRa0W4oTOb1WT7fJlAC+oNPdbB+3hVbJSRgv+4lGOETKUQz6OYStslQ142dNCuabNPGBzlooOmB231qMM85d2/fV6ChevvXvQP8Hkue1poOFtnEtpyxVLW1zAo6/1Xx1COxFvrc2d7UL/lmHInNlxuacJXwu0fjpXfz/YqYzBIBzD6WUfTIF9GRHpOn/Hz7saL8xz+W//FRAUid1OksQaQx4CMs8LOddcQhULW4ucetDf96JcR3g0gfRK4PC7E/r7Z6xNrXd2UIeorGj5Ef7b1pJAYB6Y5anaHqZ9J6nKEBvB4DnNLIVWSgARns/8wR2SiRS7MNACwTyrGvt9ts8p12PKFdlqYTopNHR1Vf7XjfhQlVsAJdNiKdYmYVoKlaRv85IfVunYzO0IKXsyl7JCUjCpoG20f0a04COweH1Cja0iUAUB6LIi2qmyB8N8OZMxSGs4yvbz5OeSpBug==";
/// D2: V2's session_key, under which V1's data fails strict PKCS#7.
const WRONG_KEY: &str = "HyVFkGl5F5OQWJZZaNzBBg==";
const RAW_DATA: &str = r#"{"nickName":"Band","gender":1}"#;

type Service = Arc<LoginService>;

struct World {
    db: TestDatabase,
    store: Arc<DieselStore>,
    clock: Arc<ManualClock>,
}

impl World {
    async fn on(db: TestDatabase) -> Self {
        let store = Arc::new(connect(&db).await);
        Self {
            db,
            store,
            clock: Arc::new(ManualClock::new(NOW)),
        }
    }

    /// A service (an instance, with its own caches) over `store`.
    fn service_over(
        store: &Arc<DieselStore>,
        clock: &Arc<ManualClock>,
        wechat: MockWeChatApi,
    ) -> Service {
        let tokens = JwtCodec::new(
            b"a test key of at least thirty-two bytes",
            TokenConfig::default(),
            Arc::clone(clock),
        )
        .expect("key");
        LoginService::builder()
            .wechat(Arc::new(wechat))
            .store(Arc::clone(store))
            .tokens(Arc::new(tokens))
            .clock(Arc::clone(clock) as Arc<dyn wxlogin_domain::Clock>)
            .build()
            .expect("every port given")
    }

    fn service(&self, wechat: MockWeChatApi) -> Service {
        Self::service_over(&self.store, &self.clock, wechat)
    }
}

async fn connect(db: &TestDatabase) -> DieselStore {
    let store = DieselStore::connect(db.url(), &PoolOptions::default(), test_sealer())
        .expect("database reachable");
    store.run_migrations().await.expect("migrations");
    store
}

/// A WeChat mock for app `V1_APPID` whose code2session gives `openid` and `key`.
fn wechat_logging_in(openid: &str, key: &str) -> MockWeChatApi {
    let mut wechat = MockWeChatApi::new();
    wechat.expect_appid().return_const(V1_APPID.to_owned());
    let (openid, key) = (openid.to_owned(), key.to_owned());
    wechat.expect_code2session().returning(move |_| {
        Ok(WeChatSession {
            openid: OpenId::new(openid.clone()),
            session_key: SessionKey::new(key.clone()),
            unionid: None,
        })
    });
    wechat
}

fn with_token(wechat: &mut MockWeChatApi, token: &'static str) {
    wechat.expect_stable_token().times(1).returning(move |_| {
        Ok(StableToken {
            access_token: AccessToken::new(token),
            expires_in: 7200,
        })
    });
}

async fn logged_in(service: &Service) -> Caller {
    let login = service.login(None, "code").await.expect("login");
    service.authenticate(&login.token).await.expect("caller")
}

fn sign(raw_data: &str, key: &str) -> String {
    let mut h = Sha1::new();
    h.update(raw_data.as_bytes());
    h.update(key.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn v1_data(key_for_signature: &str, encrypted: &str) -> UserInfoData {
    UserInfoData {
        raw_data: RAW_DATA.into(),
        signature: sign(RAW_DATA, key_for_signature),
        encrypted_data: encrypted.into(),
        iv: V1_IV.into(),
    }
}

fn phone(number: &str) -> PhoneInfo {
    PhoneInfo {
        phone_number: number.into(),
        pure_phone_number: number.into(),
        country_code: "86".into(),
    }
}

async fn verified_user_info_updates_the_profile(w: World) {
    let service = w.service(wechat_logging_in(V1_OPENID, V1_KEY));
    let caller = logged_in(&service).await;

    let user = service
        .apply_user_info(&caller, v1_data(V1_KEY, V1_DATA))
        .await
        .expect("V1 decrypts");

    assert_eq!(user.nick_name.as_deref(), Some("Band"));
    assert_eq!(user.gender, Some(1));
    assert!(
        user.avatar_url
            .as_deref()
            .is_some_and(|a| a.starts_with("http://wx.qlogo.cn/"))
    );
    assert_eq!(
        w.store.find_user(&user.id).await.expect("query"),
        Some(user)
    );
}

async fn another_apps_data_is_refused_without_asking_wechat(w: World) {
    // No stable_token or check_session expectation: calling either fails the test.
    let service = w.service(wechat_logging_in(V1_OPENID, V1_KEY));
    let caller = logged_in(&service).await;

    let refused = service
        .apply_user_info(&caller, v1_data(V1_KEY, D3_DATA))
        .await;

    assert!(
        matches!(refused, Err(CoreError::DecryptFailed(_))),
        "{refused:?}"
    );
}

async fn another_users_data_is_refused(w: World) {
    let service = w.service(wechat_logging_in("oSomeoneElse", V1_KEY));
    let caller = logged_in(&service).await;

    let refused = service
        .apply_user_info(&caller, v1_data(V1_KEY, V1_DATA))
        .await;

    assert!(
        matches!(&refused, Err(CoreError::DecryptFailed(why)) if why.to_string() == wxlogin_core::NOT_THIS_USERS_DATA),
        "{refused:?}"
    );
    let user = w
        .store
        .find_user(&caller.user.id)
        .await
        .expect("q")
        .expect("user");
    assert_eq!(user.nick_name, None, "nothing stored");
}

async fn a_stale_session_key_asks_for_a_new_login_and_ends_the_session(w: World) {
    let mut wechat = wechat_logging_in(V1_OPENID, WRONG_KEY);
    with_token(&mut wechat, "AT");
    wechat
        .expect_check_session()
        .withf(|token, openid, key| {
            token.expose() == "AT" && openid.expose() == V1_OPENID && key.expose() == WRONG_KEY
        })
        .times(1)
        .returning(|_, _, _| Ok(false));
    let service = w.service(wechat);
    let login = service.login(None, "code").await.expect("login");
    let caller = service.authenticate(&login.token).await.expect("caller");

    let refused = service
        .apply_user_info(&caller, v1_data(WRONG_KEY, V1_DATA))
        .await;

    assert!(
        matches!(refused, Err(CoreError::SessionKeyStale)),
        "{refused:?}"
    );
    assert!(matches!(
        service.authenticate(&login.token).await,
        Err(CoreError::TokenExpired)
    ));
}

async fn tampered_data_under_a_current_key_is_refused_as_such(w: World) {
    let mut wechat = wechat_logging_in(V1_OPENID, WRONG_KEY);
    with_token(&mut wechat, "AT");
    // Asked once: its verdict on the session's key is remembered for the refusals after, so
    // altered data sent in a loop does not spend the app's quota.
    wechat
        .expect_check_session()
        .times(1)
        .returning(|_, _, _| Ok(true));
    let service = w.service(wechat);
    let login = service.login(None, "code").await.expect("login");
    let caller = service.authenticate(&login.token).await.expect("caller");

    let bad_padding = service
        .apply_user_info(&caller, v1_data(WRONG_KEY, V1_DATA))
        .await;
    assert!(
        matches!(bad_padding, Err(CoreError::DecryptFailed(_))),
        "{bad_padding:?}"
    );

    let mut bad_signature = v1_data(WRONG_KEY, V1_DATA);
    bad_signature.raw_data = r#"{"nickName":"Mallory","gender":1}"#.into();
    let refused = service.apply_user_info(&caller, bad_signature).await;
    assert!(
        matches!(refused, Err(CoreError::InvalidSignature)),
        "{refused:?}"
    );
    for _ in 0..3 {
        let mut again = v1_data(WRONG_KEY, V1_DATA);
        again.raw_data = r#"{"nickName":"Mallory","gender":1}"#.into();
        assert!(matches!(
            service.apply_user_info(&caller, again).await,
            Err(CoreError::InvalidSignature)
        ));
    }
    assert!(
        service.authenticate(&login.token).await.is_ok(),
        "a current key leaves the session alone"
    );
}

async fn a_phone_code_stores_the_number(w: World) {
    let mut wechat = wechat_logging_in(V1_OPENID, V1_KEY);
    with_token(&mut wechat, "AT");
    wechat
        .expect_phone_number()
        .withf(|token, code| token.expose() == "AT" && code == "phone-code")
        .times(1)
        .returning(|_, _| Ok(phone("13800138000")));
    let service = w.service(wechat);
    let caller = logged_in(&service).await;

    let user = service
        .bind_phone_number(&caller, "phone-code")
        .await
        .expect("bound");

    assert_eq!(user.phone_number.as_deref(), Some("13800138000"));
    assert_eq!(service.access_token_fetches().here, 1);
}

async fn concurrent_calls_share_one_token_fetch(w: World) {
    let mut wechat = wechat_logging_in(V1_OPENID, V1_KEY);
    with_token(&mut wechat, "AT");
    wechat
        .expect_phone_number()
        .times(10)
        .returning(|_, _| Ok(phone("13800138000")));
    let service = w.service(wechat);
    let caller = logged_in(&service).await;

    let results = futures_util::future::join_all(
        (0..10).map(|_| service.bind_phone_number(&caller, "phone-code")),
    )
    .await;

    assert!(results.iter().all(Result::is_ok));
    assert_eq!(service.access_token_fetches().here, 1);
}

async fn the_token_is_fetched_again_shortly_before_it_expires(w: World) {
    let mut wechat = wechat_logging_in(V1_OPENID, V1_KEY);
    let mut fetches = mockall::Sequence::new();
    for token in ["AT-1", "AT-2"] {
        wechat
            .expect_stable_token()
            .with(eq(false))
            .times(1)
            .in_sequence(&mut fetches)
            .returning(move |_| {
                Ok(StableToken {
                    access_token: AccessToken::new(token),
                    expires_in: 7200,
                })
            });
    }
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    wechat.expect_phone_number().returning(move |token, _| {
        log.lock().expect("lock").push(token.expose().to_owned());
        Ok(phone("13800138000"))
    });
    let service = w.service(wechat);
    let caller = logged_in(&service).await;

    service.bind_phone_number(&caller, "a").await.expect("a");
    w.clock.advance(7200 - 300 - 1);
    service.bind_phone_number(&caller, "b").await.expect("b");
    w.clock.advance(1);
    service.bind_phone_number(&caller, "c").await.expect("c");

    assert_eq!(*seen.lock().expect("lock"), ["AT-1", "AT-1", "AT-2"]);
}

async fn a_refused_token_is_replaced_and_the_call_retried_once(w: World) {
    let mut wechat = wechat_logging_in(V1_OPENID, V1_KEY);
    let mut fetches = mockall::Sequence::new();
    for token in ["AT-1", "AT-2"] {
        wechat
            .expect_stable_token()
            .with(eq(false))
            .times(1)
            .in_sequence(&mut fetches)
            .returning(move |_| {
                Ok(StableToken {
                    access_token: AccessToken::new(token),
                    expires_in: 7200,
                })
            });
    }
    wechat
        .expect_phone_number()
        .withf(|token, _| token.expose() == "AT-1")
        .times(1)
        .returning(|_, _| Err(WeChatError::AccessTokenInvalid { errcode: 40001 }));
    wechat
        .expect_phone_number()
        .withf(|token, _| token.expose() == "AT-2")
        .times(1)
        .returning(|_, _| Ok(phone("13800138000")));
    let service = w.service(wechat);
    let caller = logged_in(&service).await;

    let user = service
        .bind_phone_number(&caller, "code")
        .await
        .expect("retried with the new token");

    assert_eq!(user.phone_number.as_deref(), Some("13800138000"));
    assert_eq!(service.access_token_fetches().here, 2);
}

async fn a_refused_token_handed_back_by_normal_mode_is_force_refreshed(w: World) {
    let mut wechat = wechat_logging_in(V1_OPENID, V1_KEY);
    let mut fetches = mockall::Sequence::new();
    for (force, token) in [(false, "AT-1"), (false, "AT-1"), (true, "AT-2")] {
        wechat
            .expect_stable_token()
            .with(eq(force))
            .times(1)
            .in_sequence(&mut fetches)
            .returning(move |_| {
                Ok(StableToken {
                    access_token: AccessToken::new(token),
                    expires_in: 7200,
                })
            });
    }
    wechat
        .expect_phone_number()
        .withf(|token, _| token.expose() == "AT-1")
        .times(1)
        .returning(|_, _| Err(WeChatError::AccessTokenInvalid { errcode: 40001 }));
    wechat
        .expect_phone_number()
        .withf(|token, _| token.expose() == "AT-2")
        .times(1)
        .returning(|_, _| Ok(phone("13800138000")));
    let service = w.service(wechat);
    let caller = logged_in(&service).await;

    service
        .bind_phone_number(&caller, "code")
        .await
        .expect("retried with the forced token");
}

async fn a_token_refused_twice_is_not_retried_again(w: World) {
    let mut wechat = wechat_logging_in(V1_OPENID, V1_KEY);
    let n = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&n);
    wechat.expect_stable_token().times(2).returning(move |_| {
        let i = counter.fetch_add(1, Ordering::SeqCst);
        Ok(StableToken {
            access_token: AccessToken::new(format!("AT-{i}")),
            expires_in: 7200,
        })
    });
    wechat
        .expect_phone_number()
        .times(2)
        .returning(|_, _| Err(WeChatError::AccessTokenInvalid { errcode: 42001 }));
    let service = w.service(wechat);
    let caller = logged_in(&service).await;

    let refused = service.bind_phone_number(&caller, "code").await;

    assert!(matches!(
        refused,
        Err(CoreError::WeChat(WeChatError::AccessTokenInvalid { .. }))
    ));
}

async fn an_exhausted_quota_is_never_retried(w: World) {
    let mut wechat = wechat_logging_in(V1_OPENID, V1_KEY);
    with_token(&mut wechat, "AT");
    wechat
        .expect_phone_number()
        .times(1)
        .returning(|_, _| Err(WeChatError::QuotaExhausted));
    let service = w.service(wechat);
    let caller = logged_in(&service).await;

    let refused = service.bind_phone_number(&caller, "code").await;

    assert!(matches!(
        refused,
        Err(CoreError::WeChat(WeChatError::QuotaExhausted))
    ));
    let user = w
        .store
        .find_user(&caller.user.id)
        .await
        .expect("q")
        .expect("user");
    assert_eq!(user.phone_number, None);
}

async fn two_instances_on_one_database_make_one_fetch(w: World) {
    // A second instance: its own connection pool, its own in-process cache.
    let other_store = Arc::new(
        DieselStore::connect(w.db.url(), &PoolOptions::default(), test_sealer())
            .expect("second pool"),
    );
    let fetches = Arc::new(AtomicUsize::new(0));
    let mock = |fetches: &Arc<AtomicUsize>| {
        let mut wechat = wechat_logging_in(V1_OPENID, V1_KEY);
        let counter = Arc::clone(fetches);
        wechat.expect_stable_token().returning(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok(StableToken {
                access_token: AccessToken::new("AT-shared"),
                expires_in: 7200,
            })
        });
        wechat
            .expect_phone_number()
            .withf(|token, _| token.expose() == "AT-shared")
            .returning(|_, _| Ok(phone("13800138000")));
        wechat
    };
    let a = w.service(mock(&fetches));
    let b = World::service_over(&other_store, &w.clock, mock(&fetches));
    let caller = logged_in(&a).await;

    let (x, y) = futures_util::future::join(
        futures_util::future::join_all((0..5).map(|_| a.bind_phone_number(&caller, "code"))),
        futures_util::future::join_all((0..5).map(|_| b.bind_phone_number(&caller, "code"))),
    )
    .await;

    assert!(x.iter().chain(y.iter()).all(Result::is_ok));
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        1,
        "one fetch for both instances"
    );
    assert_eq!(
        a.access_token_fetches().here + b.access_token_fetches().here,
        1
    );
    let stored = w
        .store
        .load_access_token(V1_APPID)
        .await
        .expect("load")
        .expect("shared row");
    assert_eq!(stored.fetches, 1);
}

async fn login_never_needs_the_access_token(w: World) {
    // No stable_token expectation: fetching one would fail the test.
    let service = w.service(wechat_logging_in(V1_OPENID, V1_KEY));
    logged_in(&service).await;
}

macro_rules! on_both_databases {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() { super::$case(super::World::on(super::TestDatabase::sqlite()).await).await; })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                if let Some(db) = super::TestDatabase::postgres() { super::$case(super::World::on(db).await).await; }
            })*
        }
    };
}

on_both_databases!(
    verified_user_info_updates_the_profile,
    another_apps_data_is_refused_without_asking_wechat,
    another_users_data_is_refused,
    a_stale_session_key_asks_for_a_new_login_and_ends_the_session,
    tampered_data_under_a_current_key_is_refused_as_such,
    a_phone_code_stores_the_number,
    concurrent_calls_share_one_token_fetch,
    the_token_is_fetched_again_shortly_before_it_expires,
    a_refused_token_is_replaced_and_the_call_retried_once,
    a_refused_token_handed_back_by_normal_mode_is_force_refreshed,
    a_token_refused_twice_is_not_retried_again,
    an_exhausted_quota_is_never_retried,
    two_instances_on_one_database_make_one_fetch,
    login_never_needs_the_access_token,
);
