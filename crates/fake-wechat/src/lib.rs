#![doc = include_str!("../README.md")]

mod business;
mod open_data;

pub use open_data::{UserData, encrypt_open_data};

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

/// Which mini program the fake plays.
#[derive(Debug, Clone)]
pub struct FakeWeChatConfig {
    /// The only appid it accepts (others get 40013).
    pub appid: String,
    /// The only secret it accepts (others get 40125).
    pub secret: String,
    /// Whether the mini program is bound to an Open Platform account, which is what makes
    /// WeChat send a `unionid`.
    pub open_platform: bool,
}

impl Default for FakeWeChatConfig {
    fn default() -> Self {
        Self {
            appid: DEV_APPID.into(),
            secret: DEV_SECRET.into(),
            open_platform: false,
        }
    }
}

#[derive(Default)]
struct State {
    /// Codes already exchanged, with how many times each was sent.
    seen: Mutex<HashMap<String, u32>>,
    code2session_calls: AtomicUsize,
    /// Each user's current session_key, by openid: the last one handed out.
    current_keys: Mutex<HashMap<String, String>>,
    /// The access tokens and the business calls made with them.
    business: Mutex<business::Tokens>,
    stable_token_calls: AtomicUsize,
    phone_calls: AtomicUsize,
    check_session_calls: AtomicUsize,
}

/// The fake WeChat API. Cheap to clone: clones share their state (used codes, call counts).
#[derive(Clone)]
pub struct FakeWeChat {
    config: Arc<FakeWeChatConfig>,
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
    /// A fake playing the mini program `config` describes.
    pub fn new(config: FakeWeChatConfig) -> Self {
        Self {
            config: Arc::new(config),
            state: Arc::default(),
        }
    }

    /// The openid the fake gives the user named `name` (see the codes table).
    pub fn openid_for(&self, name: &str) -> String {
        format!("o{}", &self.digest("openid", name)[..27])
    }

    /// The unionid the fake gives the user named `name` when it plays an Open Platform app.
    pub fn unionid_for(&self, name: &str) -> String {
        format!("o{}", &self.digest("unionid", name)[..27])
    }

    /// The session_key the fake hands out for `code` (16 bytes, base64).
    pub fn session_key_for(&self, code: &str) -> String {
        let hash = Sha256::digest(format!("session_key:{}:{code}", self.config.appid));
        STANDARD.encode(&hash[..16])
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

    /// The openid the fake gives the user who logs in with `code` (its part before the `.`).
    pub fn openid_for_code(&self, code: &str) -> String {
        self.openid_for(code.split('.').next().unwrap_or_default())
    }

    /// Plays the user of `code` logging in somewhere this backend does not hear of: WeChat's
    /// current session_key for them becomes `code`'s, and the ones handed out before go stale.
    pub fn log_in_elsewhere(&self, code: &str) {
        Self::lock(&self.state.current_keys)
            .insert(self.openid_for_code(code), self.session_key_for(code));
    }

    fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        mutex.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn digest(&self, kind: &str, name: &str) -> String {
        let hash = Sha256::digest(format!("{kind}:{}:{name}", self.config.appid));
        URL_SAFE_NO_PAD.encode(hash).replace(['-', '_'], "x")
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
            );
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

    /// Records that `code` was sent and says how many times it had been sent before.
    fn remember(&self, code: &str) -> u32 {
        let mut seen = Self::lock(&self.state.seen);
        let count = seen.entry(code.to_owned()).or_insert(0);
        *count += 1;
        *count - 1
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
    if query.appid.as_deref() != Some(fake.config.appid.as_str()) {
        return wechat_error(40013, "invalid appid");
    }
    if query.secret.as_deref() != Some(fake.config.secret.as_str()) {
        return wechat_error(40125, "invalid appsecret");
    }
    if query.grant_type.as_deref() != Some("authorization_code") {
        return wechat_error(40002, "invalid grant_type");
    }
    let code = match query.js_code {
        Some(code) if !code.is_empty() => code,
        _ => return wechat_error(41008, "missing code"),
    };
    let name = code.split('.').next().unwrap_or_default();
    let times_seen_before = fake.remember(&code);
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
        "incomplete" => return text_plain(json!({ "openid": fake.openid_for(name) })),
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
    let openid = fake.openid_for(name);
    let session_key = fake.session_key_for(&code);
    // Like WeChat, a new login replaces the user's session_key: older ones go stale.
    FakeWeChat::lock(&fake.state.current_keys).insert(openid.clone(), session_key.clone());
    let mut body = json!({ "openid": openid, "session_key": session_key });
    if fake.config.open_platform {
        body["unionid"] = fake.unionid_for(name).into();
    }
    text_plain(body)
}
