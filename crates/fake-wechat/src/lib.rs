#![doc = include_str!("../README.md")]

mod business;
mod open_data;
mod push;

pub use open_data::{UserData, encrypt_open_data};
pub use push::{DEV_PUSH_AES_KEY, DEV_PUSH_TOKEN, FakePush, PushFormat, PushMode, PushRequest};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

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

/// One app's state.
struct AppState {
    appid: String,
    secret: String,
    open_platform: std::sync::atomic::AtomicBool,
    /// The access tokens and the business calls made with them.
    business: Mutex<business::Tokens>,
}

struct State {
    apps: Vec<AppState>,
    /// Codes already exchanged (`appid:code`), with how many times each was sent.
    seen: Mutex<HashMap<String, u32>>,
    code2session_calls: AtomicUsize,
    /// Each user's current session_key, by openid: the last one handed out.
    current_keys: Mutex<HashMap<String, String>>,
    stable_token_calls: AtomicUsize,
    phone_calls: AtomicUsize,
    check_session_calls: AtomicUsize,
}

/// The fake WeChat API. Cheap to clone: clones share their state (used codes, call counts).
#[derive(Clone)]
pub struct FakeWeChat {
    state: Arc<State>,
}

/// A fake WeChat serving on a local port.
pub struct RunningFake {
    addr: SocketAddr,
    handle: ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningFake {
    /// The base URL to give a WeChat client, e.g. `http://127.0.0.1:40123`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops it, letting requests in flight finish.
    pub async fn stop(self) {
        self.handle.stop(true).await;
    }

    /// Serves until stopped by a signal.
    pub async fn wait(self) -> std::io::Result<()> {
        self.task.await.map_err(std::io::Error::other)?
    }
}

/// A fake WeChat serving on a thread of its own ([`FakeWeChat::start_in_background`]);
/// dropping it stops the fake.
pub struct BackgroundFake {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BackgroundFake {
    /// The base URL to give a WeChat client, e.g. `http://127.0.0.1:40123`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for BackgroundFake {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl FakeWeChat {
    /// A fake playing the mini programs `config` describes (the default app if it names none).
    pub fn new(config: FakeWeChatConfig) -> Self {
        let apps = if config.apps.is_empty() {
            FakeWeChatConfig::default().apps
        } else {
            config.apps
        };
        Self {
            state: Arc::new(State {
                apps: apps
                    .into_iter()
                    .map(|app| AppState {
                        appid: app.appid,
                        secret: app.secret,
                        open_platform: std::sync::atomic::AtomicBool::new(app.open_platform),
                        business: Mutex::default(),
                    })
                    .collect(),
                seen: Mutex::default(),
                code2session_calls: AtomicUsize::new(0),
                current_keys: Mutex::default(),
                stable_token_calls: AtomicUsize::new(0),
                phone_calls: AtomicUsize::new(0),
                check_session_calls: AtomicUsize::new(0),
            }),
        }
    }

    fn first(&self) -> &AppState {
        &self.state.apps[0]
    }

    fn app(&self, appid: &str) -> Option<&AppState> {
        self.state.apps.iter().find(|app| app.appid == appid)
    }

    /// The appids the fake plays, the first first.
    pub fn appids(&self) -> Vec<String> {
        self.state
            .apps
            .iter()
            .map(|app| app.appid.clone())
            .collect()
    }

    /// The openid the first app gives the user named `name` (see the codes table).
    pub fn openid_for(&self, name: &str) -> String {
        self.openid_in(&self.first().appid, name)
    }

    /// The openid app `appid` gives the user named `name`: each app has its own.
    pub fn openid_in(&self, appid: &str, name: &str) -> String {
        format!("o{}", &digest("openid", appid, name)[..27])
    }

    /// The unionid of the user named `name`: the same in every app bound to the Open Platform
    /// account.
    pub fn unionid_for(&self, name: &str) -> String {
        format!("o{}", &digest("unionid", "open-platform", name)[..27])
    }

    /// The session_key the first app hands out for `code` (16 bytes, base64).
    pub fn session_key_for(&self, code: &str) -> String {
        self.session_key_in(&self.first().appid, code)
    }

    /// The session_key app `appid` hands out for `code`.
    pub fn session_key_in(&self, appid: &str, code: &str) -> String {
        let hash = Sha256::digest(format!("session_key:{appid}:{code}"));
        STANDARD.encode(&hash[..16])
    }

    /// Binds app `appid` to the Open Platform account (from now on its logins carry the
    /// person's unionid) or unbinds it; `false` if the fake plays no such app.
    pub fn set_open_platform(&self, appid: &str, bound: bool) -> bool {
        self.app(appid)
            .map(|app| app.open_platform.store(bound, Ordering::SeqCst))
            .is_some()
    }

    /// How many code2session requests reached the fake.
    pub fn code2session_calls(&self) -> usize {
        self.state.code2session_calls.load(Ordering::SeqCst)
    }

    /// How many `stable_token` requests reached the fake (each one burns WeChat quota).
    pub fn stable_token_calls(&self) -> usize {
        self.state.stable_token_calls.load(Ordering::SeqCst)
    }

    /// How many `getuserphonenumber` requests reached the fake.
    pub fn phone_number_calls(&self) -> usize {
        self.state.phone_calls.load(Ordering::SeqCst)
    }

    /// How many `checksession` requests reached the fake.
    pub fn check_session_calls(&self) -> usize {
        self.state.check_session_calls.load(Ordering::SeqCst)
    }

    /// The openid the first app gives the user who logs in with `code` (its part before the `.`).
    pub fn openid_for_code(&self, code: &str) -> String {
        self.openid_for(name_of(code))
    }

    /// Plays the user of `code` logging in to the first app somewhere this backend does not
    /// hear of: WeChat's current session_key for them becomes `code`'s, and the ones handed
    /// out before go stale.
    pub fn log_in_elsewhere(&self, code: &str) {
        Self::lock(&self.state.current_keys)
            .insert(self.openid_for_code(code), self.session_key_for(code));
    }

    fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        mutex.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Mounts the fake's routes on an actix-web app, for embedding it in another server.
    pub fn configure(&self, cfg: &mut web::ServiceConfig) {
        cfg.app_data(web::Data::new(self.clone()))
            // The business APIs read their JSON bodies whatever the content type says.
            .app_data(web::PayloadConfig::default().limit(64 * 1024))
            .route("/sns/jscode2session", web::get().to(jscode2session))
            .route(
                "/cgi-bin/stable_token",
                web::post().to(business::stable_token),
            )
            .route(
                "/wxa/business/getuserphonenumber",
                web::post().to(business::phone_number),
            )
            .route("/wxa/checksession", web::get().to(business::check_session))
            .route(
                "/fake/userinfo",
                web::post().to(open_data::user_info_endpoint),
            )
            .route(
                "/fake/open-platform",
                web::post().to(open_platform_endpoint),
            )
            .route("/fake/push", web::post().to(push::push_endpoint));
    }

    /// Serves the fake on `addr` (use port 0 for any free port) until stopped.
    pub async fn start(self, addr: &str) -> std::io::Result<RunningFake> {
        let fake = self.clone();
        let server = HttpServer::new(move || App::new().configure(|cfg| fake.configure(cfg)))
            .workers(1)
            .disable_signals()
            .shutdown_timeout(1)
            .bind(addr)?;
        let bound = server
            .addrs()
            .first()
            .copied()
            .ok_or_else(|| std::io::Error::other("the fake WeChat bound no address"))?;
        let server = server.run();
        let handle = server.handle();
        let task = tokio::spawn(server);
        Ok(RunningFake {
            addr: bound,
            handle,
            task,
        })
    }

    /// Serves the fake on `addr` on a thread of its own, with its own actix runtime: for tests
    /// and examples on another runtime (a multi-threaded tokio one, say). Dropping the returned
    /// value stops it and waits for the thread.
    pub fn start_in_background(self, addr: &str) -> std::io::Result<BackgroundFake> {
        let addr = addr.to_owned();
        let (started, on_start) = std::sync::mpsc::channel();
        let (stop, on_stop) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("fake-wechat".into())
            .spawn(move || {
                actix_web::rt::System::new().block_on(async move {
                    match self.start(&addr).await {
                        Ok(running) => {
                            let _ = started.send(Ok(running.addr()));
                            let _ = on_stop.await;
                            running.stop().await;
                        }
                        Err(e) => {
                            let _ = started.send(Err(e));
                        }
                    }
                });
            })?;
        let addr = on_start
            .recv()
            .map_err(|_| std::io::Error::other("the fake WeChat thread ended before starting"))??;
        Ok(BackgroundFake {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Records that `code` was sent to `appid` and says how many times it had been before.
    fn remember(&self, appid: &str, code: &str) -> u32 {
        let mut seen = Self::lock(&self.state.seen);
        let count = seen.entry(format!("{appid}:{code}")).or_insert(0);
        *count += 1;
        *count - 1
    }
}

/// The user a code is for: its part before the first `.`.
fn name_of(code: &str) -> &str {
    code.split('.').next().unwrap_or_default()
}

fn digest(kind: &str, scope: &str, name: &str) -> String {
    let hash = Sha256::digest(format!("{kind}:{scope}:{name}"));
    URL_SAFE_NO_PAD.encode(hash).replace(['-', '_'], "x")
}

#[derive(Deserialize)]
struct OpenPlatformRequest {
    appid: String,
    bound: bool,
}

/// `POST /fake/open-platform {"appid", "bound"}`: not a WeChat API; binds or unbinds an app, so
/// dev mode can show a person known first without a unionid and later with one.
async fn open_platform_endpoint(
    fake: web::Data<FakeWeChat>,
    request: web::Json<OpenPlatformRequest>,
) -> HttpResponse {
    if fake.set_open_platform(&request.appid, request.bound) {
        HttpResponse::Ok().json(json!({ "appid": request.appid, "bound": request.bound }))
    } else {
        HttpResponse::NotFound().json(json!({ "error": "no such app", "appid": request.appid }))
    }
}

#[derive(Deserialize)]
struct Code2SessionQuery {
    appid: Option<String>,
    secret: Option<String>,
    js_code: Option<String>,
    grant_type: Option<String>,
}

/// A WeChat-style body: JSON, but served as `text/plain` like the real jscode2session.
fn text_plain(body: serde_json::Value) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain")
        .body(body.to_string())
}

/// An error as WeChat writes it, with the varying `rid` suffix that makes `errmsg` useless
/// to branch on.
fn wechat_error(errcode: i64, errmsg: &str) -> HttpResponse {
    let rid = uuid::Uuid::new_v4().simple().to_string();
    text_plain(json!({ "errcode": errcode, "errmsg": format!("{errmsg} rid: {}", &rid[..24]) }))
}

async fn jscode2session(
    fake: web::Data<FakeWeChat>,
    query: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    fake.state.code2session_calls.fetch_add(1, Ordering::SeqCst);
    // Parsed by hand from the map so that a missing parameter gets WeChat's answer, not 400.
    let query = Code2SessionQuery {
        appid: query.get("appid").cloned(),
        secret: query.get("secret").cloned(),
        js_code: query.get("js_code").cloned(),
        grant_type: query.get("grant_type").cloned(),
    };
    let Some(app) = query.appid.as_deref().and_then(|appid| fake.app(appid)) else {
        return wechat_error(40013, "invalid appid");
    };
    if query.secret.as_deref() != Some(app.secret.as_str()) {
        return wechat_error(40125, "invalid appsecret");
    }
    if query.grant_type.as_deref() != Some("authorization_code") {
        return wechat_error(40002, "invalid grant_type");
    }
    let code = match query.js_code {
        Some(code) if !code.is_empty() => code,
        _ => return wechat_error(41008, "missing code"),
    };
    let name = name_of(&code);
    let times_seen_before = fake.remember(&app.appid, &code);
    match name {
        "invalid" => return wechat_error(40029, "invalid code"),
        "used" => return wechat_error(40163, "code been used"),
        "ratelimited" => {
            return wechat_error(
                45011,
                "api minute-quota reach limit mustslower retry next minute",
            );
        }
        "risky" => return wechat_error(40226, "high risk user"),
        "busy" => return wechat_error(-1, "system error"),
        "flaky" if times_seen_before == 0 => return wechat_error(-1, "system error"),
        "garbage" => {
            return HttpResponse::Ok()
                .content_type("text/plain")
                .body("<html><body>502 Bad Gateway</body></html>");
        }
        "incomplete" => return text_plain(json!({ "openid": fake.openid_in(&app.appid, name) })),
        // Half a reply, then the connection drops: WeChat may have used the code.
        "cut" => {
            let half: Result<web::Bytes, std::io::Error> =
                Ok(web::Bytes::from_static(b"{\"openid\":"));
            let lost: Result<web::Bytes, std::io::Error> =
                Err(std::io::Error::other("connection lost"));
            return HttpResponse::Ok()
                .content_type("text/plain")
                .streaming(futures_util::stream::iter([half, lost]));
        }
        _ => {}
    }
    if let Some(status) = name
        .strip_prefix("status_")
        .and_then(|n| n.parse::<u16>().ok())
        .and_then(|n| actix_web::http::StatusCode::from_u16(n).ok())
    {
        return HttpResponse::build(status).body("upstream trouble");
    }
    if let Some(errcode) = name
        .strip_prefix("errcode_")
        .and_then(|n| n.parse::<i64>().ok())
    {
        return wechat_error(errcode, "fake error");
    }
    if let Some(ms) = name
        .strip_prefix("slow_")
        .and_then(|n| n.parse::<u64>().ok())
    {
        tokio::time::sleep(Duration::from_millis(ms.min(30_000))).await;
    }
    // A code is good once; `flaky` counts its failed first try as not having used it.
    let uses_before = if name == "flaky" {
        times_seen_before - 1
    } else {
        times_seen_before
    };
    if uses_before > 0 {
        return wechat_error(40163, "code been used");
    }
    let openid = fake.openid_in(&app.appid, name);
    let session_key = fake.session_key_in(&app.appid, &code);
    // Like WeChat, a new login replaces the user's session_key: older ones go stale.
    FakeWeChat::lock(&fake.state.current_keys).insert(openid.clone(), session_key.clone());
    let mut body = json!({ "openid": openid, "session_key": session_key });
    if app.open_platform.load(Ordering::SeqCst) {
        body["unionid"] = fake.unionid_for(name).into();
    }
    text_plain(body)
}
