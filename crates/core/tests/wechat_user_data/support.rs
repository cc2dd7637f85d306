//! The WeChat facts the cases decrypt, a world of one database and a clock, and the services
//! over it with WeChat mocked.

use std::sync::Arc;

use sha1::{Digest, Sha1};
use wxlogin_core::{Caller, LoginService, UserInfoData};
use wxlogin_domain::{
    AccessToken, ManualClock, MockWeChatApi, OpenId, PhoneInfo, SessionKey, StableToken,
    WeChatSession,
};
use wxlogin_token::{JwtCodec, TokenConfig};
use wxlogin_user_store::testing::{TestDatabase, test_sealer};
use wxlogin_user_store::{DieselStore, PoolOptions};

pub(crate) const NOW: i64 = 1_800_000_000;
/// V1 of the WeChat facts: WeChat's decrypt demo.
pub(crate) const V1_APPID: &str = "wx4f4bc4dec97d474b";
pub(crate) const V1_KEY: &str = "tiihtNczf5v6AKRyjwEUhQ==";
pub(crate) const V1_OPENID: &str = "oGZUI0egBJY1zhBYw2KhdUfwVJJE";
pub(crate) const V1_IV: &str = "r7BXXKkLb8qrSNn05n0qiA==";
pub(crate) const V1_DATA: &str = "CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDcvSnxIMXFufNstNGTyaGS9uT5geRa0W4oTOb1WT7fJlAC+oNPdbB+3hVbJSRgv+4lGOETKUQz6OYStslQ142dNCuabNPGBzlooOmB231qMM85d2/fV6ChevvXvQP8Hkue1poOFtnEtpyxVLW1zAo6/1Xx1COxFvrc2d7UL/lmHInNlxuacJXwu0fjpXfz/YqYzBIBzD6WUfTIF9GRHpOn/Hz7saL8xz+W//FRAUid1OksQaQx4CMs8LOddcQhULW4ucetDf96JcR3g0gfRK4PC7E/r7Z6xNrXd2UIeorGj5Ef7b1pJAYB6Y5anaHqZ9J6nKEBvB4DnNLIVWSgARns/8wR2SiRS7MNACwTyrGvt9ts8p12PKFdlqYTopNHR1Vf7XjfhQlVsAJdNiKdYmYVoKlaRv85IfVunYzO0IKXsyl7JCUjCpoG20f0a04COwfneQAGGwd5oa+T8yO5hzuyDb/XcxxmK01EpqOyuxINew==";
/// D3: V1's plaintext with another appid in its watermark, under V1's key and iv.
pub(crate) const D3_DATA: &str = "CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDcvSnxIMXFufNstNGTyaGS9uT5geRa0W4oTOb1WT7fJlAC+oNPdbB+3hVbJSRgv+4lGOETKUQz6OYStslQ142dNCuabNPGBzlooOmB231qMM85d2/fV6ChevvXvQP8Hkue1poOFtnEtpyxVLW1zAo6/1Xx1COxFvrc2d7UL/lmHInNlxuacJXwu0fjpXfz/YqYzBIBzD6WUfTIF9GRHpOn/Hz7saL8xz+W//FRAUid1OksQaQx4CMs8LOddcQhULW4ucetDf96JcR3g0gfRK4PC7E/r7Z6xNrXd2UIeorGj5Ef7b1pJAYB6Y5anaHqZ9J6nKEBvB4DnNLIVWSgARns/8wR2SiRS7MNACwTyrGvt9ts8p12PKFdlqYTopNHR1Vf7XjfhQlVsAJdNiKdYmYVoKlaRv85IfVunYzO0IKXsyl7JCUjCpoG20f0a04COweH1Cja0iUAUB6LIi2qmyB8N8OZMxSGs4yvbz5OeSpBug==";
/// D2: V2's session_key, under which V1's data fails strict PKCS#7.
pub(crate) const WRONG_KEY: &str = "HyVFkGl5F5OQWJZZaNzBBg==";
pub(crate) const RAW_DATA: &str = r#"{"nickName":"Band","gender":1}"#;

pub(crate) type Service = Arc<LoginService>;

pub(crate) struct World {
    pub(crate) db: TestDatabase,
    pub(crate) store: Arc<DieselStore>,
    pub(crate) clock: Arc<ManualClock>,
}

impl World {
    pub(crate) async fn on(db: TestDatabase) -> Self {
        let store = Arc::new(connect(&db).await);
        Self {
            db,
            store,
            clock: Arc::new(ManualClock::new(NOW)),
        }
    }

    /// A service (an instance, with its own caches) over `store`.
    pub(crate) fn service_over(
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

    pub(crate) fn service(&self, wechat: MockWeChatApi) -> Service {
        Self::service_over(&self.store, &self.clock, wechat)
    }
}

pub(crate) async fn connect(db: &TestDatabase) -> DieselStore {
    let store = DieselStore::connect(db.url(), &PoolOptions::default(), test_sealer())
        .expect("database reachable");
    store.run_migrations().await.expect("migrations");
    store
}

/// A WeChat mock for app `V1_APPID` whose code2session gives `openid` and `key`.
pub(crate) fn wechat_logging_in(openid: &str, key: &str) -> MockWeChatApi {
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

pub(crate) fn with_token(wechat: &mut MockWeChatApi, token: &'static str) {
    wechat.expect_stable_token().times(1).returning(move |_| {
        Ok(StableToken {
            access_token: AccessToken::new(token),
            expires_in: 7200,
        })
    });
}

pub(crate) async fn logged_in(service: &Service) -> Caller {
    let login = service.login(None, "code").await.expect("login");
    service.authenticate(&login.token).await.expect("caller")
}

pub(crate) fn sign(raw_data: &str, key: &str) -> String {
    let mut h = Sha1::new();
    h.update(raw_data.as_bytes());
    h.update(key.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn v1_data(key_for_signature: &str, encrypted: &str) -> UserInfoData {
    UserInfoData {
        raw_data: RAW_DATA.into(),
        signature: sign(RAW_DATA, key_for_signature),
        encrypted_data: encrypted.into(),
        iv: V1_IV.into(),
    }
}

pub(crate) fn phone(number: &str) -> PhoneInfo {
    PhoneInfo {
        phone_number: number.into(),
        pure_phone_number: number.into(),
        country_code: "86".into(),
    }
}
