//! What the admin suite shares: keys and their file, a server with the admin listener, a login's
//! ids, and the admin calls the cases make most.

use serde_json::{Value, json};
use wxlogin_e2e::{Reply, TestApp};
use wxlogin_user_store::testing::TestDatabase;

pub(crate) const KEY: &str = "operator-key-for-tests-0000000001";
pub(crate) const OTHER_KEY: &str = "operator-key-for-tests-0000000002";

/// A keys file, removed when dropped (even when the test fails).
pub(crate) struct KeysFile(std::path::PathBuf);

impl KeysFile {
    pub(crate) fn new(keys: &[&str]) -> Self {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "wxlogin-admin-keys-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::write(&path, format!("# test keys\n{}\n", keys.join("\n"))).expect("keys file");
        Self(path)
    }

    pub(crate) fn path(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for KeysFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

pub(crate) async fn spawn_admin(db: &TestDatabase, keys: &KeysFile) -> TestApp {
    spawn_admin_env(db, keys, &[]).await
}

pub(crate) async fn spawn_admin_env(
    db: &TestDatabase,
    keys: &KeysFile,
    more: &[(&str, &str)],
) -> TestApp {
    let path = keys.path();
    let mut env = vec![
        ("ADMIN_BIND_ADDR", "127.0.0.1:0"),
        ("ADMIN_API_KEYS_FILE", path.as_str()),
        ("METRICS_BIND_ADDR", "127.0.0.1:0"),
    ];
    env.extend_from_slice(more);
    TestApp::spawn_env(db.url(), &env).await
}

pub(crate) use wxlogin_e2e::Login;

pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

pub(crate) async fn refresh(app: &TestApp, token: &str) -> Reply {
    app.request(
        "POST",
        "/api/token/refresh",
        None,
        Some(&json!({ "refreshToken": token }).to_string()),
    )
    .await
}

pub(crate) async fn ban(app: &TestApp, user: &str) -> Reply {
    app.admin_request(
        "POST",
        &format!("/admin/users/{user}/ban"),
        Some(KEY),
        Some(r#"{"reason":"spam"}"#),
    )
    .await
}

pub(crate) async fn audit(app: &TestApp, query: &str) -> Vec<Value> {
    let mut entries = Vec::new();
    let mut after = 0;
    loop {
        let page = app
            .admin_request(
                "GET",
                &format!("/admin/audit?after={after}&limit=50{query}"),
                Some(KEY),
                None,
            )
            .await;
        assert_eq!(page.status, 200, "{}", page.text);
        let got = page.json["entries"].as_array().cloned().unwrap_or_default();
        let last_page = got.len() < 50;
        after = page.json["next"].as_i64().expect("next");
        entries.extend(got);
        // Each page read is itself recorded (`admin_lookup`): a short page is the end.
        if last_page {
            return entries;
        }
    }
}
