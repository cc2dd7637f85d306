//! The `wxlogin-server` binary as an operator meets it: configuration errors, dev mode, logs,
//! and a graceful stop on SIGTERM and SIGINT.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use wxlogin_fake_wechat::{FakeWeChat, FakeWeChatConfig};
use wxlogin_user_store::testing::TestDatabase;

fn server() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wxlogin-server"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    cmd
}

#[test]
fn without_required_variables_it_refuses_to_start_and_names_them() {
    let out = server().output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for name in ["WECHAT_APPID", "WECHAT_SECRET", "TOKEN_SECRET"] {
        assert!(stderr.contains(name), "{name} missing from: {stderr}");
    }
}

#[test]
fn a_short_token_secret_is_refused_by_name() {
    let out = server()
        .env("WECHAT_APPID", "wx1")
        .env("WECHAT_SECRET", "s")
        .env("TOKEN_SECRET", "short")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("TOKEN_SECRET is 5 bytes long"), "{stderr}");
    assert!(
        !stderr.contains("short"),
        "the secret itself is not echoed: {stderr}"
    );
}

#[test]
fn dev_mode_refuses_every_production_credential_by_name() {
    for name in [
        "WECHAT_APPID",
        "WECHAT_SECRET",
        "TOKEN_SECRET",
        "SESSION_KEY_SECRET",
    ] {
        let out = server()
            .arg("--dev")
            .env(name, "a production value of thirty-two bytes")
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(1), "{name}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("{name} is set, but --dev")),
            "{stderr}"
        );
        assert!(!stderr.contains("production value"), "{stderr}");
    }
}

#[test]
fn an_unknown_argument_is_a_usage_error() {
    let out = server().arg("--prod").output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage"));
}

#[test]
fn openapi_prints_the_description_without_configuration_or_a_server() {
    let out = server().arg("--openapi").output().expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1"))
    );
    assert!(doc["paths"]["/api/login"]["post"].is_object());
}

struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    log: Vec<String>,
    port: u16,
}

/// A failing test must not leave its server running.
impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Running {
    fn start_dev(db: &TestDatabase) -> Self {
        Self::start_dev_with(db, &[])
    }

    fn start_dev_with(db: &TestDatabase, env: &[(&str, &str)]) -> Self {
        let mut child = server()
            .arg("--dev")
            .envs(env.iter().copied())
            .env("BIND_ADDR", "127.0.0.1:0")
            .env("DATABASE_URL", db.url())
            .env("RUST_LOG", "debug")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("starts");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut running = Self {
            child,
            lines,
            log: Vec::new(),
            port: 0,
        };
        let line = running.wait_for("wxlogin-server listening on http://");
        running.port = line
            .rsplit(':')
            .next()
            .and_then(|p| p.trim().parse().ok())
            .expect("port in the log");
        running
    }

    fn wait_for(&mut self, needle: &str) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("no {needle:?} in {:#?}", self.log));
            self.log.push(line.clone());
            if line.contains(needle) {
                return line;
            }
        }
    }

    fn post(&self, path: &str, body: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connects");
        write!(
            stream,
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .expect("sent");
        let mut reply = String::new();
        stream.read_to_string(&mut reply).expect("read");
        let status = reply
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = reply
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    }

    fn signal(&mut self, name: &str) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args([&format!("-{name}"), &pid])
                .status()
                .expect("kill")
                .success()
        );
        let status = self.child.wait().expect("exits");
        self.log.extend(self.lines.try_iter());
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
            self.log.push(line);
        }
        status
    }
}

#[test]
fn dev_mode_logs_in_says_so_loudly_keeps_secrets_out_of_logs_and_stops_on_sigterm() {
    let db = TestDatabase::sqlite();
    let mut running = Running::start_dev(&db);
    assert!(
        running.log.iter().any(|l| l.contains("DEV MODE")),
        "{:#?}",
        running.log
    );

    let (status, body) = running.post("/api/login", r#"{"code":"alice.1"}"#);
    assert_eq!(status, 200, "{body}");
    let reply: serde_json::Value = serde_json::from_str(&body).expect("json");
    let token = reply["token"].as_str().expect("token").to_owned();
    running.wait_for("/api/login");

    let status = running.signal("TERM");
    assert!(status.success(), "{status:?}");
    let log = running.log.join("\n");
    assert!(log.contains("SIGTERM received"), "{log}");

    let fake = FakeWeChat::new(FakeWeChatConfig::default());
    for secret in [
        token.as_str(),
        &fake.openid_for("alice"),
        &fake.session_key_for("alice.1"),
        wxlogin_fake_wechat::DEV_SECRET,
    ] {
        assert!(
            !log.contains(secret),
            "{secret} leaked into the log:\n{log}"
        );
    }
}

#[test]
fn sigint_stops_it_gracefully_too() {
    let db = TestDatabase::sqlite();
    let mut running = Running::start_dev(&db);
    let status = running.signal("INT");
    assert!(status.success(), "{status:?}");
    assert!(
        running.log.iter().any(|l| l.contains("SIGINT received")),
        "{:#?}",
        running.log
    );
}

#[test]
fn dev_mode_with_two_apps_makes_one_account_of_one_person() {
    let db = TestDatabase::sqlite();
    let mut running = Running::start_dev_with(&db, &[("DEV_APPS", "2")]);
    let [shop, club, ..] = wxlogin_fake_wechat::DEV_APPIDS;
    let login = |running: &Running, code: &str, appid: &str| {
        let (status, body) = running.post(
            "/api/login",
            &format!(r#"{{"code":"{code}","appid":"{appid}"}}"#),
        );
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<serde_json::Value>(&body).expect("json")
    };
    let first = login(&running, "alice.1", shop);
    let second = login(&running, "alice.2", club);
    assert_eq!(second["userExist"], true);
    assert_eq!(second["userInfo"]["id"], first["userInfo"]["id"]);
    assert_eq!(second["userInfo"]["apps"], serde_json::json!([shop, club]));
    let (status, body) = running.post("/api/login", r#"{"code":"alice.3"}"#);
    assert_eq!(status, 400, "two apps: the login must name one: {body}");
    assert!(running.signal("TERM").success());
}

/// `keys rotate` then `keys list`, as an operator runs them against the database: the first key
/// made at once, the rotation pending, no key material printed; refused under HS256.
#[test]
fn keys_rotate_and_list_show_the_signing_keys_and_never_their_material() {
    let db = TestDatabase::sqlite();
    let keys = |args: &[&str], alg: &str| {
        server()
            .args(args)
            .env("WECHAT_APPID", "wx1")
            .env("WECHAT_SECRET", "s")
            .env("TOKEN_SECRET", "a production value of thirty-two bytes")
            .env("DATABASE_URL", db.url())
            .env("TOKEN_ALG", alg)
            .output()
            .expect("runs")
    };
    // Listing makes nothing, whatever the shell's TOKEN_ALG.
    let empty = keys(&["keys", "list"], "ES256");
    assert_eq!(empty.status.code(), Some(0), "{empty:?}");
    assert_eq!(String::from_utf8_lossy(&empty.stdout).lines().count(), 1);
    let first = keys(&["keys", "rotate"], "EdDSA");
    assert_eq!(first.status.code(), Some(0), "{first:?}");
    let second = keys(&["keys", "rotate"], "EdDSA");
    let said = String::from_utf8_lossy(&second.stdout);
    assert!(said.starts_with("made key "), "{said}");
    let again = keys(&["keys", "rotate"], "EdDSA");
    let said = String::from_utf8_lossy(&again.stdout);
    assert!(said.contains("already pending"), "{said}");

    let list = keys(&["keys", "list"], "EdDSA");
    assert_eq!(list.status.code(), Some(0));
    let table = String::from_utf8_lossy(&list.stdout);
    let rows: Vec<&str> = table.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{table}");
    assert!(rows[0].contains(" active "), "{table}");
    assert!(rows[1].contains(" pending "), "{table}");
    assert!(rows.iter().all(|row| row.contains("EdDSA")));
    // Each row is kid, generation, algorithm, state, three dates: nothing else.
    for row in &rows {
        assert_eq!(row.split_whitespace().count(), 7, "{row}");
    }

    let hs256 = keys(&["keys", "rotate"], "HS256");
    assert_eq!(hs256.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&hs256.stderr).contains("HS256"));
    let usage = keys(&["keys", "delete"], "EdDSA");
    assert_eq!(usage.status.code(), Some(2));
}
