//! What the webhook cases share: a receiver that records every request and can be switched
//! down and up, the files the server reads (`WEBHOOKS_FILE`, the admin keys), a server with
//! webhooks, the admin listener and metrics, and waiting for deliveries.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine as _;
use serde_json::Value;
use wxlogin_e2e::{Reply, Spawn, TestApp};
use wxlogin_fake_wechat::{FakeWeChat, FakeWeChatConfig, RunningFake};
use wxlogin_user_store::testing::TestDatabase;

/// Every event type the contract names.
pub(crate) const ALL_EVENTS: &[&str] = &wxlogin_domain::WEBHOOK_EVENT_TYPES;

pub(crate) const KEY: &str = "operator-key-for-webhook-tests-01";

/// One request the receiver got, and what it answered.
#[derive(Clone, Debug)]
pub(crate) struct Received {
    /// The request's path and query.
    pub(crate) path: String,
    /// Header names in lower case.
    pub(crate) headers: HashMap<String, String>,
    /// The raw body, exactly as received.
    pub(crate) body: String,
    /// What the receiver answered.
    pub(crate) status: u16,
}

impl Received {
    pub(crate) fn webhook_id(&self) -> &str {
        self.headers.get("webhook-id").map_or("", String::as_str)
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    pub(crate) fn event_type(&self) -> String {
        self.json()["type"].as_str().unwrap_or_default().to_owned()
    }

    pub(crate) fn user_id(&self) -> String {
        self.json()["data"]["userId"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub(crate) fn taken(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

#[derive(Clone, Default)]
struct Recorded {
    up: Arc<AtomicBool>,
    requests: Arc<Mutex<Vec<Received>>>,
}

/// A webhook receiver on 127.0.0.1: answers 204 when up and 503 when down, and records every
/// request either way. Stopped when dropped.
pub(crate) struct Receiver {
    recorded: Recorded,
    addr: SocketAddr,
    handle: ServerHandle,
}

async fn record(
    request: HttpRequest,
    body: web::Bytes,
    recorded: web::Data<Recorded>,
) -> HttpResponse {
    let up = recorded.up.load(Ordering::SeqCst);
    let status = if up { 204 } else { 503 };
    let headers = request
        .headers()
        .iter()
        .filter_map(|(name, value)| {
            Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
        })
        .collect();
    let path = request
        .uri()
        .path_and_query()
        .map_or_else(|| request.path().to_owned(), ToString::to_string);
    recorded
        .requests
        .lock()
        .expect("receiver log")
        .push(Received {
            path,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
            status,
        });
    match up {
        true => HttpResponse::NoContent().finish(),
        false => HttpResponse::ServiceUnavailable().body("down for the test"),
    }
}

impl Receiver {
    /// A receiver on a free port, up.
    pub(crate) fn start() -> Self {
        let recorded = Recorded::default();
        recorded.up.store(true, Ordering::SeqCst);
        let shared = web::Data::new(recorded.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .default_service(web::to(record))
        })
        .workers(1)
        .disable_signals()
        .bind("127.0.0.1:0")
        .expect("the receiver binds");
        let addr = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Self {
            recorded,
            addr,
            handle,
        }
    }

    /// `http://127.0.0.1:<port><path_and_query>`.
    pub(crate) fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{path_and_query}", self.addr)
    }

    pub(crate) fn set_up(&self, up: bool) {
        self.recorded.up.store(up, Ordering::SeqCst);
    }

    /// Every request so far, in the order they came.
    pub(crate) fn requests(&self) -> Vec<Received> {
        self.recorded.requests.lock().expect("receiver log").clone()
    }

    /// Waits (at most `within`) until `done` holds of the requests so far; fails the test with
    /// `what` and everything received otherwise.
    pub(crate) async fn wait_until(
        &self,
        what: &str,
        within: Duration,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let since = Instant::now();
        loop {
            let requests = self.requests();
            if done(&requests) {
                return requests;
            }
            if since.elapsed() >= within {
                let shown: Vec<String> = requests
                    .iter()
                    .map(|r| format!("{} {} {} {}", r.status, r.webhook_id(), r.path, r.body))
                    .collect();
                panic!(
                    "not within {within:?}: {what}; received:\n{}",
                    shown.join("\n")
                );
            }
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        // `stop` sends its command at once; the future only waits for the end.
        drop(self.handle.stop(false));
    }
}

/// A file that exists for one test, removed when dropped (even when the test fails).
pub(crate) struct TempFile(std::path::PathBuf);

impl TempFile {
    pub(crate) fn new(kind: &str, text: &str) -> Self {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "wxlogin-webhooks-{kind}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, text).expect("test file written");
        Self(path)
    }

    pub(crate) fn path(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A fresh Standard Webhooks secret: `whsec_` and the base64 of 32 random bytes.
pub(crate) fn new_secret() -> String {
    use std::io::Read as _;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(&mut bytes))
        .expect("random bytes");
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// One `[[webhook]]` of a `WEBHOOKS_FILE`.
pub(crate) struct Hook<'a> {
    pub(crate) url: &'a str,
    pub(crate) secret: &'a str,
    pub(crate) events: &'a [&'a str],
}

/// A `WEBHOOKS_FILE` naming `hooks`.
pub(crate) fn webhooks_file(hooks: &[Hook<'_>]) -> TempFile {
    let text: String = hooks
        .iter()
        .map(|hook| {
            let events: Vec<String> = hook.events.iter().map(|e| format!("\"{e}\"")).collect();
            format!(
                "[[webhook]]\nurl = \"{}\"\nsecret = \"{}\"\nevents = [{}]\n\n",
                hook.url,
                hook.secret,
                events.join(", ")
            )
        })
        .collect();
    TempFile::new("endpoints", &text)
}

/// The admin keys file holding [`KEY`].
pub(crate) fn keys_file() -> TempFile {
    TempFile::new("admin-keys", &format!("{KEY}\n"))
}

/// The variables a server with webhooks, the admin listener and metrics is started with.
fn webhook_env(webhooks: &TempFile, keys: &TempFile) -> Vec<(&'static str, String)> {
    vec![
        ("WEBHOOKS_FILE", webhooks.path()),
        ("ADMIN_BIND_ADDR", "127.0.0.1:0".to_owned()),
        ("ADMIN_API_KEYS_FILE", keys.path()),
        ("METRICS_BIND_ADDR", "127.0.0.1:0".to_owned()),
    ]
}

/// A server on `db` with its own fake WeChat, delivering to the endpoints of `webhooks`.
pub(crate) async fn spawn_with_webhooks(
    db: &TestDatabase,
    webhooks: &TempFile,
    keys: &TempFile,
) -> TestApp {
    let env = webhook_env(webhooks, keys);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    TestApp::spawn_env(db.url(), &env).await
}

/// A server on `db` talking to the running fake WeChat `fake` (its clone and base URL), with
/// `webhooks`: for the cases that stop a server and start another on the same database.
pub(crate) async fn spawn_sharing(
    db: &TestDatabase,
    fake: &(FakeWeChat, String),
    webhooks: &TempFile,
    keys: &TempFile,
) -> TestApp {
    let env = webhook_env(webhooks, keys);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    TestApp::spawn_with(Spawn {
        database_url: db.url(),
        env: &env,
        fake: Some(fake.clone()),
        apps: 1,
    })
    .await
}

/// A fake WeChat of one app, running until dropped or stopped, for servers that come and go.
pub(crate) async fn start_fake() -> (RunningFake, (FakeWeChat, String)) {
    let fake = FakeWeChat::new(FakeWeChatConfig::dev(1));
    let running = fake
        .clone()
        .start("127.0.0.1:0")
        .await
        .expect("fake WeChat starts");
    let url = running.base_url();
    (running, (fake, url))
}

/// Another server of the same deployment (the same fake WeChat) on `db`, with `webhooks`.
pub(crate) async fn restart_with_webhooks(
    previous: &TestApp,
    db: &TestDatabase,
    webhooks: &TempFile,
    keys: &TempFile,
) -> TestApp {
    let env = webhook_env(webhooks, keys);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    previous.another_instance(db.url(), &env).await
}

pub(crate) use wxlogin_e2e::Login;

/// An admin call with [`KEY`], asserted to succeed.
pub(crate) async fn admin(app: &TestApp, method: &str, path: &str, body: Option<&str>) -> Reply {
    let reply = app.admin_request(method, path, Some(KEY), body).await;
    assert!(
        (200..300).contains(&reply.status),
        "{method} {path}: {} {}",
        reply.status,
        reply.text
    );
    reply
}

/// The sum of every series of metric `name` on `app`'s `/metrics`.
pub(crate) async fn metric(app: &TestApp, name: &str) -> f64 {
    let base = app.metrics.clone().expect("the metrics listener is on");
    let text = app.request_raw_at(&base, "/metrics").await;
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Waits (at most `within`) until metric `name` of `app` is `value`; fails the test otherwise.
pub(crate) async fn wait_for_metric(app: &TestApp, name: &str, value: f64, within: Duration) {
    let since = Instant::now();
    loop {
        let now = metric(app, name).await;
        if now == value {
            return;
        }
        assert!(
            since.elapsed() < within,
            "{name} is {now}, not {value}, after {within:?}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The event types of the deliveries taken for `user`, in the order they came.
pub(crate) fn types_for(taken: &[Received], user: &str) -> Vec<String> {
    taken
        .iter()
        .filter(|r| r.user_id() == user)
        .map(Received::event_type)
        .collect()
}
