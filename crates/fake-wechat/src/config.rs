//! Which mini programs the fake plays, and the dev-mode defaults.

/// The appid the fake plays by default, and that dev mode uses.
pub const DEV_APPID: &str = "wx00000000000000fe";
/// The secret the fake expects by default, and that dev mode uses. Not a real secret.
pub const DEV_SECRET: &str = "fake-wechat-dev-secret";
/// The appids of the mini programs dev mode plays when it plays several (`DEV_APPID` first).
pub const DEV_APPIDS: [&str; 3] = [DEV_APPID, "wx00000000000001fe", "wx00000000000002fe"];

/// One mini program the fake plays.
#[derive(Debug, Clone)]
pub struct FakeApp {
    /// Its appid (others get 40013).
    pub appid: String,
    /// Its secret (others get 40125).
    pub secret: String,
    /// Whether it is bound to the Open Platform account, which is what makes WeChat send a
    /// `unionid` (the same for one person in every bound app). Can change while the fake runs
    /// ([`FakeWeChat::set_open_platform`]), as an app can be bound later.
    pub open_platform: bool,
}

impl FakeApp {
    /// An app not bound to the Open Platform account.
    pub fn new(appid: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            appid: appid.into(),
            secret: secret.into(),
            open_platform: false,
        }
    }

    /// The same app, bound to the Open Platform account.
    pub fn bound(mut self) -> Self {
        self.open_platform = true;
        self
    }
}

/// Which mini programs the fake plays, all under one Open Platform account.
#[derive(Debug, Clone)]
pub struct FakeWeChatConfig {
    /// The apps; the first is the one the methods without an appid speak of.
    pub apps: Vec<FakeApp>,
}

impl Default for FakeWeChatConfig {
    /// One app, `DEV_APPID`, not bound (no unionid).
    fn default() -> Self {
        Self {
            apps: vec![FakeApp::new(DEV_APPID, DEV_SECRET)],
        }
    }
}

impl FakeWeChatConfig {
    /// One app, as given.
    pub fn single(app: FakeApp) -> Self {
        Self { apps: vec![app] }
    }

    /// What dev mode plays: with one app, the default; with two or three, the first apps of
    /// [`DEV_APPIDS`] (all with [`DEV_SECRET`]), bound to the Open Platform account, so one
    /// person logging in through two of them is one account.
    pub fn dev(apps: usize) -> Self {
        if apps <= 1 {
            return Self::default();
        }
        Self {
            apps: DEV_APPIDS
                .iter()
                .take(apps)
                .map(|appid| FakeApp::new(*appid, DEV_SECRET).bound())
                .collect(),
        }
    }
}
