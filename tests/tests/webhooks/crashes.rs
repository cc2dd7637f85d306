//! The outbox holds an event from the moment its change is answered: a server killed (SIGKILL,
//! no chance to finish anything) right after a deletion still delivers it once restarted.
//!
//! The killed server is the real binary in a process of its own (`cargo build -p
//! wxlogin-server` first); the one started after it is the in-process test server.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wxlogin_e2e::TOKEN_SECRET;
use wxlogin_fake_wechat::{DEV_APPID, DEV_PUSH_AES_KEY, DEV_PUSH_TOKEN, DEV_SECRET};
use wxlogin_user_store::testing::TestDatabase;

use crate::support::{
    Hook, Receiver, TempFile, keys_file, new_secret, spawn_sharing, start_fake, webhooks_file,
};

wxlogin_e2e::on_both_databases!(
    a_server_killed_right_after_a_deletion_still_delivers_it_on_restart
);

async fn a_server_killed_right_after_a_deletion_still_delivers_it_on_restart(db: &TestDatabase) {
    let receiver = Receiver::start();
    receiver.set_up(false);
    let secret = new_secret();
    let hooks = webhooks_file(&[Hook {
        url: &receiver.url("/hooks"),
        secret: &secret,
        events: &["user.deleted"],
    }]);
    let (running, fake) = start_fake().await;
    let mut server = ServerProcess::start(db, &fake.1, &hooks).await;

    let login = server
        .call("POST", "/api/login", None, json!({ "code": "kai.1" }))
        .await;
    assert_eq!(login.0, 200, "{}", login.1);
    let user = login.1["userInfo"]["id"].as_str().expect("id").to_owned();
    let token = login.1["token"].as_str().expect("token").to_owned();
    let deleted = server
        .call(
            "DELETE",
            "/api/me",
            Some(&token),
            json!({ "code": "kai.2" }),
        )
        .await;
    assert_eq!(deleted.0, 204, "{}", deleted.1);
    server.kill();

    receiver.set_up(true);
    let keys = keys_file();
    let restarted = spawn_sharing(db, &fake, &hooks, &keys).await;
    // Generous: had the killed server claimed the delivery already, its claim (60 s) must end.
    let got = receiver
        .wait_until(
            "the deletion delivered after the restart",
            Duration::from_secs(90),
            |got| {
                got.iter()
                    .any(|r| r.taken() && r.event_type() == "user.deleted" && r.user_id() == user)
            },
        )
        .await;
    let taken: Vec<_> = got.iter().filter(|r| r.taken()).collect();
    assert_eq!(taken.len(), 1, "{taken:#?}");
    restarted.stop().await;
    running.stop().await;
}

/// The real `wxlogin-server` binary in a process of its own, killed (and waited for) when
/// dropped.
struct ServerProcess {
    child: Option<Child>,
    base: String,
    log: TempFile,
    client: awc::Client,
}

impl ServerProcess {
    async fn start(db: &TestDatabase, fake_url: &str, hooks: &TempFile) -> Self {
        let binary = server_binary();
        let addr = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port");
        let log = TempFile::new("server.log", "");
        let child = Command::new(binary)
            .env_clear()
            .env("WECHAT_APPID", DEV_APPID)
            .env("WECHAT_SECRET", DEV_SECRET)
            .env("WECHAT_PUSH_TOKEN", DEV_PUSH_TOKEN)
            .env("WECHAT_PUSH_AES_KEY", DEV_PUSH_AES_KEY)
            .env("WECHAT_API_BASE", fake_url)
            .env("TOKEN_SECRET", TOKEN_SECRET)
            .env("DATABASE_URL", db.url())
            .env("BIND_ADDR", addr.to_string())
            .env("LOGIN_RATE_LIMIT", "0")
            .env("USER_RATE_LIMIT", "0")
            .env("CONTENT_CHECK", "off")
            .env("WORKERS", "2")
            .env("DB_POOL_SIZE", "8")
            .env("WEBHOOKS_FILE", hooks.path())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log.path()).expect("log file"))
            .spawn()
            .expect("wxlogin-server starts");
        let mut server = Self {
            child: Some(child),
            base: format!("http://{addr}"),
            log,
            client: awc::Client::builder()
                .timeout(Duration::from_secs(30))
                .finish(),
        };
        server.wait_until_up().await;
        server
    }

    async fn wait_until_up(&mut self) {
        let since = Instant::now();
        loop {
            if let Ok(res) = self
                .client
                .get(format!("{}/healthz", self.base))
                .send()
                .await
                && res.status().is_success()
            {
                return;
            }
            let exited = self
                .child
                .as_mut()
                .and_then(|child| child.try_wait().ok().flatten());
            assert!(
                exited.is_none() && since.elapsed() < Duration::from_secs(30),
                "wxlogin-server did not come up ({exited:?}); its log:\n{}",
                std::fs::read_to_string(self.log.path()).unwrap_or_default()
            );
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A JSON request: status and body.
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> (u16, Value) {
        let method = actix_web::http::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.insert_header(("Authorization", format!("Bearer {token}")));
        }
        let mut answer = request.send_json(&body).await.expect("request sent");
        let bytes = answer.body().await.expect("body read");
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (answer.status().as_u16(), json)
    }

    /// SIGKILL, and wait for the process to be gone.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL sent");
            child.wait().expect("the server is gone");
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The server binary of this build's profile, built once per test run by cargo (the e2e
/// package depends on the server's library, not its binary).
fn server_binary() -> PathBuf {
    static BUILT: Mutex<Option<PathBuf>> = Mutex::new(None);
    let mut built = BUILT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(path) = built.as_ref() {
        return path.clone();
    }
    // target/<profile>/deps/webhooks-<hash>: the binary goes to target/<profile>/.
    let exe = std::env::current_exe().expect("the test's own path");
    let profile_dir = exe
        .parent()
        .and_then(std::path::Path::parent)
        .expect("target/<profile>");
    let profile = profile_dir
        .file_name()
        .and_then(|name| name.to_str())
        .expect("a profile name");
    let profile = if profile == "debug" { "dev" } else { profile };
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "build",
            "--locked",
            "--profile",
            profile,
            "-p",
            "wxlogin-server",
            "--bin",
            "wxlogin-server",
        ])
        .status()
        .expect("cargo runs");
    assert!(status.success(), "cargo build -p wxlogin-server failed");
    let path = profile_dir.join("wxlogin-server");
    *built = Some(path.clone());
    path
}
