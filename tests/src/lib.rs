//! Helpers for the end-to-end tests: start the real server on a free port against the fake
//! WeChat and a throwaway database, and talk to it over real HTTP.
//!
//! Cargo compiles no `tests/` folder at the root of a virtual workspace, so the end-to-end
//! suite is this crate of its own (`cargo test -p wxlogin-e2e`).

use std::collections::HashMap;

use actix_web::dev::ServerHandle;
use serde_json::Value;
use wxlogin_fake_wechat::{
    DEV_APPID, DEV_PUSH_AES_KEY, DEV_PUSH_TOKEN, DEV_SECRET, FakeWeChat, FakeWeChatConfig,
    RunningFake,
};
use wxlogin_server::{Application, Config};

/// The token key of test servers.
pub const TOKEN_SECRET: &str = "e2e-token-secret-0123456789abcdef";

/// A running server and the fake WeChat behind it.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The fake, to learn openids and count upstream calls.
    pub fake: FakeWeChat,
    /// The base URL of the fake WeChat this app talks to.
    pub fake_url: String,
    /// `http://127.0.0.1:<port>` of `/metrics`, when `METRICS_BIND_ADDR` was set.
    pub metrics: Option<String>,
    handle: ServerHandle,
    task: actix_web::rt::task::JoinHandle<std::io::Result<()>>,
    _fake_running: Option<RunningFake>,
    _apps_file: Option<RemovedOnDrop>,
    client: awc::Client,
}

/// A file that exists for one test.
struct RemovedOnDrop(std::path::PathBuf);

impl Drop for RemovedOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A `WECHAT_APPS_FILE` naming every app of `fake`, with the dev secret.
fn apps_file(fake: &FakeWeChat) -> RemovedOnDrop {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "wxlogin-test-apps-{}-{}.toml",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let text: String = fake
        .appids()
        .iter()
        .map(|appid| {
            format!(
                "[[app]]\nappid = \"{appid}\"\nsecret = \"{DEV_SECRET}\"\n\
                 push_token = \"{DEV_PUSH_TOKEN}\"\npush_aes_key = \"{DEV_PUSH_AES_KEY}\"\n\n"
            )
        })
        .collect();
    std::fs::write(&path, text).expect("apps file written");
    RemovedOnDrop(path)
}

/// An HTTP answer, body parsed as JSON when it is JSON.
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Content-Type header.
    pub content_type: String,
    /// The raw body.
    pub text: String,
    /// The body as JSON (`Null` when empty or not JSON).
    pub json: Value,
    /// The answer's headers, names in lower case (the last value of each).
    pub headers: HashMap<String, String>,
}

impl Reply {
    /// The `error` kind of an error body.
    pub fn error(&self) -> &str {
        self.json["error"].as_str().unwrap_or("<none>")
    }
}

/// Which server to start.
pub struct Spawn<'a> {
    /// `DATABASE_URL`.
    pub database_url: &'a str,
    /// Extra or overriding environment variables.
    pub env: &'a [(&'a str, &'a str)],
    /// Share this running fake (for several instances); start a new one when `None`.
    pub fake: Option<(FakeWeChat, String)>,
    /// How many of the dev mini programs a new fake plays (`FakeWeChatConfig::dev`): with two
    /// or more, the server is configured by a `WECHAT_APPS_FILE` naming them all.
    pub apps: usize,
}

impl TestApp {
    /// Starts a server on `database_url` with a fresh fake WeChat.
    pub async fn spawn(database_url: &str) -> Self {
        Self::spawn_with(Spawn {
            database_url,
            env: &[],
            fake: None,
            apps: 1,
        })
        .await
    }

    /// Starts a server on `database_url` with a fresh fake WeChat of one app, with `env` on top
    /// of the test configuration.
    pub async fn spawn_env(database_url: &str, env: &[(&str, &str)]) -> Self {
        Self::spawn_with(Spawn {
            database_url,
            env,
            fake: None,
            apps: 1,
        })
        .await
    }

    /// Starts a server serving `apps` of the dev mini programs, all bound to the Open Platform
    /// account, on `database_url`.
    pub async fn spawn_apps(database_url: &str, apps: usize) -> Self {
        Self::spawn_with(Spawn {
            database_url,
            env: &[],
            fake: None,
            apps,
        })
        .await
    }

    /// Starts a server as `spawn` says.
    pub async fn spawn_with(spawn: Spawn<'_>) -> Self {
        let (fake, fake_url, running) = match spawn.fake {
            Some((fake, url)) => (fake, url, None),
            None => {
                let fake = FakeWeChat::new(FakeWeChatConfig::dev(spawn.apps));
                let running = fake
                    .clone()
                    .start("127.0.0.1:0")
                    .await
                    .expect("fake WeChat starts");
                let url = running.base_url();
                (fake, url, Some(running))
            }
        };
        let mut env: HashMap<String, String> = [
            ("WECHAT_APPID", DEV_APPID),
            ("WECHAT_SECRET", DEV_SECRET),
            ("WECHAT_PUSH_TOKEN", DEV_PUSH_TOKEN),
            ("WECHAT_PUSH_AES_KEY", DEV_PUSH_AES_KEY),
            ("TOKEN_SECRET", TOKEN_SECRET),
            ("BIND_ADDR", "127.0.0.1:0"),
            ("LOGIN_RATE_LIMIT", "0"),
            // The suites make many user-data calls per account; the limit has a test of its own.
            ("USER_RATE_LIMIT", "0"),
            ("WORKERS", "2"),
            ("DB_POOL_SIZE", "8"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        env.insert("WECHAT_API_BASE".into(), fake_url.clone());
        let apps_file = (fake.appids().len() > 1).then(|| apps_file(&fake));
        if let Some(file) = &apps_file {
            for name in [
                "WECHAT_APPID",
                "WECHAT_SECRET",
                "WECHAT_PUSH_TOKEN",
                "WECHAT_PUSH_AES_KEY",
            ] {
                env.remove(name);
            }
            env.insert("WECHAT_APPS_FILE".into(), file.0.display().to_string());
        }
        env.insert("DATABASE_URL".into(), spawn.database_url.to_owned());
        for (k, v) in spawn.env {
            env.insert((*k).to_owned(), (*v).to_owned());
        }
        let config =
            Config::from_env(false, |name| env.get(name).cloned()).expect("valid test config");
        let app = Application::build(config).await.expect("server starts");
        let base = format!("http://{}", app.addr());
        let metrics = app.metrics_addr().map(|addr| format!("http://{addr}"));
        let handle = app.handle();
        let task = actix_web::rt::spawn(app.run_until_stopped());
        Self {
            base,
            fake,
            fake_url,
            metrics,
            handle,
            task,
            _fake_running: running,
            _apps_file: apps_file,
            client: awc::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .finish(),
        }
    }

    /// Another instance of this deployment: the same WeChat (and so the same apps), on
    /// `database_url`, with `env` on top.
    pub async fn another_instance(&self, database_url: &str, env: &[(&str, &str)]) -> Self {
        Self::spawn_with(Spawn {
            database_url,
            env,
            fake: Some(self.shared_fake()),
            apps: self.fake.appids().len(),
        })
        .await
    }

    /// The fake and its URL, to start another instance against the same WeChat.
    pub fn shared_fake(&self) -> (FakeWeChat, String) {
        let url = self
            ._fake_running
            .as_ref()
            .map(RunningFake::base_url)
            .expect("this app owns its fake");
        (self.fake.clone(), url)
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(self) {
        self.handle.stop(true).await;
        let _ = self.task.await;
    }

    /// Any request: method, path, `Authorization` value, raw body with a JSON content type.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        auth: Option<&str>,
        body: Option<&str>,
    ) -> Reply {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
        self.request_with(method, path, &headers, body).await
    }

    /// `POST /api/login` with `{"code": code}`.
    pub async fn login(&self, code: &str) -> Reply {
        self.request(
            "POST",
            "/api/login",
            None,
            Some(&serde_json::json!({ "code": code }).to_string()),
        )
        .await
    }

    /// `POST /api/login` with `{"code": code, "appid": appid}`.
    pub async fn login_in(&self, appid: &str, code: &str) -> Reply {
        self.request(
            "POST",
            "/api/login",
            None,
            Some(&serde_json::json!({ "code": code, "appid": appid }).to_string()),
        )
        .await
    }

    /// Logs in through `appid` and returns the token, failing the test if login fails.
    pub async fn token_in(&self, appid: &str, code: &str) -> String {
        let reply = self.login_in(appid, code).await;
        assert_eq!(reply.status, 200, "login {code} in {appid}: {}", reply.text);
        reply.json["token"].as_str().expect("token").to_owned()
    }

    /// Any request, with extra headers.
    pub async fn request_with(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Reply {
        let method = actix_web::http::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        for (name, value) in headers {
            req = req.insert_header((*name, *value));
        }
        let mut res = match body {
            Some(body) => req
                .insert_header(("Content-Type", "application/json"))
                .send_body(body.to_owned())
                .await
                .expect("request sent"),
            None => req.send().await.expect("request sent"),
        };
        let bytes = res.body().limit(1 << 20).await.expect("body read");
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let headers = res
            .headers()
            .iter()
            .filter_map(|(name, value)| {
                Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
            })
            .collect();
        Reply {
            headers,
            status: res.status().as_u16(),
            content_type: res
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned(),
            json: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
        }
    }

    /// Logs in and returns the token, failing the test if login fails.
    pub async fn token(&self, code: &str) -> String {
        let reply = self.login(code).await;
        assert_eq!(reply.status, 200, "login {code}: {}", reply.text);
        reply.json["token"].as_str().expect("token").to_owned()
    }

    /// `GET /api/me` with `Authorization: Bearer <token>`.
    pub async fn me(&self, token: &str) -> Reply {
        self.request("GET", "/api/me", Some(&format!("Bearer {token}")), None)
            .await
    }

    /// `PUT /api/me` with a raw JSON body.
    pub async fn put_me(&self, token: &str, body: &str) -> Reply {
        self.request(
            "PUT",
            "/api/me",
            Some(&format!("Bearer {token}")),
            Some(body),
        )
        .await
    }

    /// `POST path` with a JSON body, as the caller holding `token`.
    pub async fn post(&self, path: &str, token: &str, body: &serde_json::Value) -> Reply {
        self.request(
            "POST",
            path,
            Some(&format!("Bearer {token}")),
            Some(&body.to_string()),
        )
        .await
    }

    /// `POST /api/logout`.
    pub async fn logout(&self, token: &str) -> Reply {
        self.request(
            "POST",
            "/api/logout",
            Some(&format!("Bearer {token}")),
            None,
        )
        .await
    }
}

/// The first reply that satisfies `done`, asking again until `within` has passed since `since`
/// (for a change to reach another instance); the last reply if none did.
pub async fn eventually<F, Fut>(
    mut ask: F,
    done: impl Fn(&Reply) -> bool,
    since: std::time::Instant,
    within: std::time::Duration,
) -> Reply
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Reply>,
{
    loop {
        let reply = ask().await;
        if done(&reply) || since.elapsed() >= within {
            return reply;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

impl TestApp {
    /// Asserts that within `limit` from `since`, this instance answers `token` with 401
    /// `session_revoked` (another instance's change has reached it).
    pub async fn assert_revoked_within(
        &self,
        token: &str,
        since: std::time::Instant,
        limit: std::time::Duration,
    ) {
        let reply = eventually(|| self.me(token), |r| r.status == 401, since, limit).await;
        assert_error(&reply, 401, "session_revoked");
    }
}

/// Asserts that `reply` is an error of the contract's shape with this status and kind.
pub fn assert_error(reply: &Reply, status: u16, kind: &str) {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert_eq!(reply.error(), kind, "{}", reply.text);
    assert_eq!(reply.json["code"], status, "{}", reply.text);
    assert!(
        reply.json["msg"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        reply.text
    );
    assert!(
        reply.content_type.starts_with("application/json"),
        "{}",
        reply.content_type
    );
}

/// Runs each named `async fn(&TestDatabase)` of the calling test file as two tests: on a fresh
/// SQLite file, and on a fresh PostgreSQL database (skipped only where PostgreSQL may be, see
/// `wxlogin_user_store::testing`). The file must import `TestDatabase`.
#[macro_export]
macro_rules! on_both_databases {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[actix_rt::test] async fn $case() { super::$case(&super::TestDatabase::sqlite()).await; })*
        }
        mod postgres {
            $(#[actix_rt::test] async fn $case() {
                if let Some(db) = super::TestDatabase::postgres() { super::$case(&db).await; }
            })*
        }
    };
}
