//! Starting a test server: the real server on a free port, against the fake WeChat (its own or
//! a shared one) and a throwaway database.

use std::collections::HashMap;

use actix_web::dev::ServerHandle;
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
    /// The admin listener's base URL, when `ADMIN_BIND_ADDR` was set.
    pub admin: Option<String>,
    handle: ServerHandle,
    task: actix_web::rt::task::JoinHandle<std::io::Result<()>>,
    _fake_running: Option<RunningFake>,
    _apps_file: Option<RemovedOnDrop>,
    pub(crate) client: awc::Client,
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
            // WeChat's content checks have tests of their own, which turn them on.
            ("CONTENT_CHECK", "off"),
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
        let admin = app.admin_addr().map(|addr| format!("http://{addr}"));
        let handle = app.handle();
        let task = actix_web::rt::spawn(app.run_until_stopped());
        Self {
            base,
            fake,
            fake_url,
            metrics,
            admin,
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
}
