//! The operators' side over HTTP (contract v3): the admin listener and its keys, bans that hold
//! on every instance within a second, sessions listed and ended, deletion, and an audit log
//! that records every kind of change and holds no secret. On SQLite and PostgreSQL; the second
//! instance on PostgreSQL only (one process serves a SQLite file).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wxlogin_e2e::{Reply, TestApp, assert_error, on_both_databases};
use wxlogin_user_store::testing::TestDatabase;

on_both_databases!(
    a_ban_ends_every_session_everywhere_and_refuses_logins_and_refreshes_until_unbanned,
    admin_routes_take_only_a_listed_key_and_are_not_on_the_public_listener,
    sessions_are_listed_with_their_address_and_one_can_be_ended,
    an_operator_deletes_an_account_without_its_owner,
    the_audit_log_records_every_kind_of_change_and_no_secret,
    the_command_line_bans_through_the_same_use_cases,
);

const KEY: &str = "operator-key-for-tests-0000000001";
const OTHER_KEY: &str = "operator-key-for-tests-0000000002";

/// A keys file, removed when dropped (even when the test fails).
struct KeysFile(std::path::PathBuf);

impl KeysFile {
    fn new(keys: &[&str]) -> Self {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "wxlogin-admin-keys-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::write(&path, format!("# test keys\n{}\n", keys.join("\n"))).expect("keys file");
        Self(path)
    }

    fn path(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for KeysFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

async fn spawn_admin(db: &TestDatabase, keys: &KeysFile) -> TestApp {
    spawn_admin_env(db, keys, &[]).await
}

async fn spawn_admin_env(db: &TestDatabase, keys: &KeysFile, more: &[(&str, &str)]) -> TestApp {
    let path = keys.path();
    let mut env = vec![
        ("ADMIN_BIND_ADDR", "127.0.0.1:0"),
        ("ADMIN_API_KEYS_FILE", path.as_str()),
        ("METRICS_BIND_ADDR", "127.0.0.1:0"),
    ];
    env.extend_from_slice(more);
    TestApp::spawn_env(db.url(), &env).await
}

/// A login's account id, access token and refresh token.
struct Login {
    user: String,
    token: String,
    refresh: String,
}

async fn log_in(app: &TestApp, code: &str) -> Login {
    let reply = app.login(code).await;
    assert_eq!(reply.status, 200, "login {code}: {}", reply.text);
    let text = |field: &Value| field.as_str().expect("a string").to_owned();
    Login {
        user: text(&reply.json["userInfo"]["id"]),
        token: text(&reply.json["token"]),
        refresh: text(&reply.json["refreshToken"]),
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

async fn refresh(app: &TestApp, token: &str) -> Reply {
    app.request(
        "POST",
        "/api/token/refresh",
        None,
        Some(&json!({ "refreshToken": token }).to_string()),
    )
    .await
}

async fn ban(app: &TestApp, user: &str) -> Reply {
    app.admin_request(
        "POST",
        &format!("/admin/users/{user}/ban"),
        Some(KEY),
        Some(r#"{"reason":"spam"}"#),
    )
    .await
}

async fn audit(app: &TestApp, query: &str) -> Vec<Value> {
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

async fn a_ban_ends_every_session_everywhere_and_refuses_logins_and_refreshes_until_unbanned(
    db: &TestDatabase,
) {
    let keys = KeysFile::new(&[KEY]);
    let a = spawn_admin(db, &keys).await;
    // Another instance caching sessions for a minute: only the change feed tells it.
    let b = match db.url().starts_with("postgres") {
        true => Some(
            a.another_instance(db.url(), &[("SESSION_CACHE_MS", "60000")])
                .await,
        ),
        false => None,
    };
    let other = b.as_ref().unwrap_or(&a);
    let Login {
        user,
        token,
        refresh: refresh_token,
    } = log_in(&a, "bob.1").await;
    let second = a.token("bob.2").await;
    assert_eq!(
        other.me(&token).await.status,
        200,
        "cached on the other instance"
    );
    assert_eq!(other.me(&second).await.status, 200);

    let banned = ban(&a, &user).await;
    assert_eq!(banned.status, 200, "{}", banned.text);
    assert_eq!(banned.json["status"], "disabled");
    assert_eq!(banned.json["disabledReason"], "spam");
    let since = Instant::now();
    for token in [&token, &second] {
        other
            .assert_revoked_within(token, since, Duration::from_secs(1))
            .await;
    }
    assert_error(&other.login("bob.6").await, 403, "account_disabled");
    assert_error(
        &refresh(other, &refresh_token).await,
        403,
        "account_disabled",
    );
    assert_error(&a.login("bob.4").await, 403, "account_disabled");

    let unbanned = a
        .admin_request(
            "POST",
            &format!("/admin/users/{user}/unban"),
            Some(KEY),
            None,
        )
        .await;
    assert_eq!(unbanned.status, 200, "{}", unbanned.text);
    assert_eq!(unbanned.json["status"], "active");
    let back = other.login("bob.5").await;
    assert_eq!(back.status, 200, "logins work again: {}", back.text);
    assert_eq!(
        back.json["userInfo"]["id"],
        user.as_str(),
        "the same account"
    );
    // The sessions the ban ended stay ended; the client treats 403 as final, the server keeps
    // answering it the same way meanwhile.
    assert_error(&other.me(&token).await, 401, "session_revoked");
    assert_error(
        &refresh(other, &refresh_token).await,
        401,
        "session_revoked",
    );
    if let Some(b) = b {
        b.stop().await;
    }
    a.stop().await;
}

async fn admin_routes_take_only_a_listed_key_and_are_not_on_the_public_listener(db: &TestDatabase) {
    let keys = KeysFile::new(&[KEY, OTHER_KEY]);
    let app = spawn_admin(db, &keys).await;
    let user = log_in(&app, "cy.1").await.user;
    let path = format!("/admin/users/{user}");
    assert_eq!(
        app.admin_request("GET", &path, Some(KEY), None)
            .await
            .status,
        200
    );
    assert_eq!(
        app.admin_request("GET", &path, Some(OTHER_KEY), None)
            .await
            .status,
        200
    );
    for key in [
        None,
        Some("wrong-key-wrong-key-wrong-key"),
        Some(&KEY[..KEY.len() - 1]),
    ] {
        assert_error(
            &app.admin_request("GET", &path, key, None).await,
            401,
            "admin_unauthorized",
        );
    }
    assert_error(
        &app.admin_request(
            "POST",
            &format!("{path}/ban"),
            None,
            Some(r#"{"reason":"x"}"#),
        )
        .await,
        401,
        "admin_unauthorized",
    );
    assert_eq!(
        app.admin_request("GET", &path, Some(KEY), None).await.json["status"],
        "active",
        "a refused ban changed nothing"
    );
    // Not on the public listener, with or without a key.
    let public = app
        .request("GET", &path, Some(&format!("Bearer {KEY}")), None)
        .await;
    assert_error(&public, 404, "not_found");
    let metrics = app
        .request_raw_at(app.metrics.as_deref().expect("metrics"), "/metrics")
        .await;
    assert!(
        metrics.contains("wxlogin_admin_unauthorized_total 4"),
        "refusals counted: {metrics}"
    );
    // Audited once a minute per address (each a write otherwise), all counted in metrics.
    let refused = audit(&app, "&kind=admin_unauthorized").await;
    assert_eq!(
        refused.len(),
        1,
        "the address's refusals recorded once: {refused:?}"
    );
    assert_eq!(refused[0]["clientAddr"], "127.0.0.1");
    // The key is checked before anything else: no route, body or query is read without it.
    assert_error(
        &app.admin_request("GET", "/admin/nothing-here", None, None)
            .await,
        401,
        "admin_unauthorized",
    );
    assert_error(
        &app.admin_request("POST", &format!("{path}/ban"), None, Some("not json"))
            .await,
        401,
        "admin_unauthorized",
    );
    assert_error(
        &app.admin_request("GET", "/admin/nothing-here", Some(KEY), None)
            .await,
        404,
        "not_found",
    );
    assert_error(
        &app.admin_request(
            "POST",
            &format!("{path}/ban"),
            Some(KEY),
            Some(r#"{"reason":"  "}"#),
        )
        .await,
        400,
        "invalid_request",
    );
    let description = app
        .admin_request("GET", "/admin/openapi.json", Some(KEY), None)
        .await;
    assert_eq!(description.status, 200);
    assert!(description.json["paths"]["/admin/users/{id}/ban"]["post"].is_object());

    // A key taken out of the file no longer opens anything once the server reads it again.
    let fewer = KeysFile::new(&[KEY]);
    let restarted = spawn_admin(db, &fewer).await;
    assert_error(
        &restarted
            .admin_request("GET", &path, Some(OTHER_KEY), None)
            .await,
        401,
        "admin_unauthorized",
    );
    assert_eq!(
        restarted
            .admin_request("GET", &path, Some(KEY), None)
            .await
            .status,
        200
    );
    restarted.stop().await;
    app.stop().await;
}

async fn sessions_are_listed_with_their_address_and_one_can_be_ended(db: &TestDatabase) {
    let keys = KeysFile::new(&[KEY]);
    let app = spawn_admin(db, &keys).await;
    let first = log_in(&app, "dee.1").await;
    let user = first.user.clone();
    let first_token = first.token.clone();
    let second = app.token("dee.2").await;
    let listed = app
        .admin_request(
            "GET",
            &format!("/admin/users/{user}/sessions"),
            Some(KEY),
            None,
        )
        .await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let sessions = listed.json["sessions"]
        .as_array()
        .expect("sessions")
        .clone();
    assert_eq!(sessions.len(), 2);
    for session in &sessions {
        assert_eq!(session["state"], "active");
        assert_eq!(session["clientAddr"], "127.0.0.1");
        assert!(session["createdAt"].is_string() && session["appid"].is_string());
    }
    // Newest first (session ids are time-ordered): the first login's is the second.
    let sid = sessions[1]["id"].as_str().expect("sid").to_owned();
    let ended = app
        .admin_request("DELETE", &format!("/admin/sessions/{sid}"), Some(KEY), None)
        .await;
    assert_eq!(ended.status, 204, "{}", ended.text);
    assert_error(&app.me(&first_token).await, 401, "session_revoked");
    assert_eq!(app.me(&second).await.status, 200, "the other session lives");
    assert_error(
        &app.admin_request("DELETE", &format!("/admin/sessions/{sid}"), Some(KEY), None)
            .await,
        404,
        "not_found",
    );
    let after = app
        .admin_request(
            "GET",
            &format!("/admin/users/{user}/sessions"),
            Some(KEY),
            None,
        )
        .await;
    let states: Vec<&str> = after.json["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .filter_map(|s| s["state"].as_str())
        .collect();
    assert_eq!(states.iter().filter(|s| **s == "revoked").count(), 1);
    app.stop().await;
}

async fn an_operator_deletes_an_account_without_its_owner(db: &TestDatabase) {
    let keys = KeysFile::new(&[KEY]);
    let app = spawn_admin(db, &keys).await;
    let login = log_in(&app, "eve.1").await;
    let user = login.user.clone();
    let token = login.token.clone();
    let path = format!("/admin/users/{user}");
    let deleted = app.admin_request("DELETE", &path, Some(KEY), None).await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    assert_error(
        &app.admin_request("GET", &path, Some(KEY), None).await,
        404,
        "not_found",
    );
    assert_eq!(app.me(&token).await.status, 401);
    let again = app.login("eve.2").await;
    assert_eq!(again.status, 200);
    assert_ne!(again.json["userInfo"]["id"], user.as_str(), "a new account");
    // Found by identity for support; the openid is never answered.
    let openid = app.fake.openid_for("eve");
    let found = app
        .admin_request(
            "GET",
            &format!(
                "/admin/users?appid={}&openid={openid}",
                app.fake.appids()[0]
            ),
            Some(KEY),
            None,
        )
        .await;
    assert_eq!(found.status, 200, "{}", found.text);
    assert_eq!(found.json["id"], again.json["userInfo"]["id"]);
    assert!(!found.text.contains(&openid));
    app.stop().await;
}

async fn the_audit_log_records_every_kind_of_change_and_no_secret(db: &TestDatabase) {
    let keys = KeysFile::new(&[KEY]);
    // No reuse window: a token two steps back is a theft signal at once.
    let app = spawn_admin_env(db, &keys, &[("REFRESH_REUSE_SECS", "0")]).await;
    let mut secrets: Vec<String> = Vec::new();
    let login = log_in(&app, "fay.1").await;
    let user = login.user.clone();
    let token = login.token.clone();
    let first_refresh = login.refresh.clone();
    let renewed = refresh(&app, &first_refresh).await;
    assert_eq!(renewed.status, 200, "{}", renewed.text);
    let second_refresh = renewed.json["refreshToken"]
        .as_str()
        .expect("refresh")
        .to_owned();
    let third = refresh(&app, &second_refresh).await;
    assert_eq!(third.status, 200);
    // Two steps back, outside the reuse window: a theft signal.
    let reuse = refresh(&app, &first_refresh).await;
    assert_eq!(reuse.status, 401);
    let logged_in = app.login("fay.2").await;
    let second_token = logged_in.json["token"].as_str().expect("token").to_owned();
    assert_eq!(app.logout(&second_token).await.status, 204);
    assert_error(&app.login("invalid.fay-code").await, 400, "invalid_code");
    assert_eq!(ban(&app, &user).await.status, 200);
    assert_eq!(
        app.admin_request(
            "POST",
            &format!("/admin/users/{user}/unban"),
            Some(KEY),
            None
        )
        .await
        .status,
        200
    );
    assert_eq!(
        app.admin_request("GET", "/admin/audit", Some("not-a-key-not-a-key-000"), None)
            .await
            .status,
        401
    );
    let third_token = app.token("fay.3").await;
    // An accepted WeChat push: fay's nickname cleared by user_info_modified.
    assert_eq!(
        app.put_me(&third_token, r#"{"nickName":"Fay"}"#)
            .await
            .status,
        200
    );
    let push = wxlogin_fake_wechat::FakePush {
        appid: Some(app.fake.appids()[0].clone()),
        user: "fay".into(),
        event: "user_info_modified".into(),
        revoke_info: None,
        // Made after the nickname was set (an event changes only what is older).
        create_time: Some(unix_now() + 1),
        mode: wxlogin_fake_wechat::PushMode::Safe,
        format: wxlogin_fake_wechat::PushFormat::Xml,
    };
    assert_eq!(
        app.fake.push(&app.base, &push).await.expect("pushed").0,
        200
    );
    let sessions = app
        .admin_request(
            "GET",
            &format!("/admin/users/{user}/sessions"),
            Some(KEY),
            None,
        )
        .await;
    let live = sessions.json["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .find(|s| s["state"] == "active")
        .and_then(|s| s["id"].as_str())
        .expect("a live session")
        .to_owned();
    assert_eq!(
        app.admin_request(
            "DELETE",
            &format!("/admin/sessions/{live}"),
            Some(KEY),
            None
        )
        .await
        .status,
        204
    );
    let gone_user = log_in(&app, "gus.1").await.user;
    assert_eq!(
        app.admin_request(
            "DELETE",
            &format!("/admin/users/{gone_user}"),
            Some(KEY),
            None
        )
        .await
        .status,
        204
    );
    secrets.extend([
        token,
        second_token,
        third_token,
        first_refresh,
        second_refresh,
        app.fake.openid_for("fay"),
        app.fake.openid_for("gus"),
        app.fake.unionid_for("fay"),
        "fay.1".into(),
        "fay.2".into(),
        "fay.3".into(),
        "invalid.fay-code".into(),
        KEY.into(),
    ]);

    let entries = audit(&app, "").await;
    let kinds: std::collections::BTreeSet<&str> =
        entries.iter().filter_map(|e| e["kind"].as_str()).collect();
    for kind in [
        "login",
        "refresh",
        "refresh_reuse",
        "logout",
        "ban",
        "unban",
        "session_revoked",
        "deletion",
        "admin_unauthorized",
        "admin_lookup",
        "push",
    ] {
        assert!(kinds.contains(kind), "no {kind} entry in {kinds:?}");
    }
    let text = serde_json::to_string(&entries).expect("json");
    for secret in &secrets {
        assert!(
            !text.contains(secret.as_str()),
            "the audit log holds {secret}"
        );
    }
    let failed = entries
        .iter()
        .find(|e| e["kind"] == "login" && e["outcome"] == "invalid_code")
        .expect("the refused login");
    assert_eq!(failed["clientAddr"], "127.0.0.1");
    let ban_entry = entries.iter().find(|e| e["kind"] == "ban").expect("ban");
    assert_eq!(ban_entry["userId"], user.as_str());
    assert!(
        ban_entry["actor"]
            .as_str()
            .is_some_and(|a| a.starts_with("admin:key-")),
        "the key's fingerprint: {ban_entry}"
    );
    // One account's entries, by the `user` filter.
    let own = audit(&app, &format!("&user={user}")).await;
    assert!(!own.is_empty() && own.iter().all(|e| e["userId"] == user.as_str()));
    app.stop().await;
}

async fn the_command_line_bans_through_the_same_use_cases(db: &TestDatabase) {
    use wxlogin_server::admin_command::AdminCommand;
    let keys = KeysFile::new(&[KEY]);
    let app = spawn_admin(db, &keys).await;
    let login = log_in(&app, "hal.1").await;
    let user = login.user.clone();
    let token = login.token.clone();
    let env: std::collections::HashMap<&str, String> = [
        ("WECHAT_APPID", wxlogin_fake_wechat::DEV_APPID.to_owned()),
        ("WECHAT_SECRET", wxlogin_fake_wechat::DEV_SECRET.to_owned()),
        ("TOKEN_SECRET", wxlogin_e2e::TOKEN_SECRET.to_owned()),
        ("DATABASE_URL", db.url().to_owned()),
    ]
    .into_iter()
    .collect();
    let config =
        wxlogin_server::Config::from_env(false, |name| env.get(name).cloned()).expect("config");
    let args = |line: &str| -> Vec<String> { line.split(' ').map(str::to_owned).collect() };
    assert_eq!(AdminCommand::parse(&args("ban")), None);
    assert_eq!(
        AdminCommand::parse(&args(&format!("ban {user}"))),
        None,
        "a reason is needed"
    );
    let since = Instant::now();
    AdminCommand::parse(&args(&format!("ban {user} abuse reported")))
        .expect("parsed")
        .run(&config)
        .await
        .expect("banned");
    app.assert_revoked_within(&token, since, Duration::from_secs(1))
        .await;
    assert_error(&app.login("hal.2").await, 403, "account_disabled");
    let shown = app
        .admin_request("GET", &format!("/admin/users/{user}"), Some(KEY), None)
        .await;
    assert_eq!(shown.json["disabledReason"], "abuse reported");
    let bans = audit(&app, "&kind=ban").await;
    assert!(
        bans.iter().any(|e| e["userId"] == user.as_str()
            && e["actor"]
                .as_str()
                .is_some_and(|a| a.starts_with("admin:cli:"))),
        "{bans:?}"
    );
    AdminCommand::parse(&args(&format!("unban {user}")))
        .expect("parsed")
        .run(&config)
        .await
        .expect("unbanned");
    assert_eq!(app.login("hal.3").await.status, 200);
    assert!(
        AdminCommand::parse(&args("unban no-such-account"))
            .expect("parsed")
            .run(&config)
            .await
            .is_err(),
        "an unknown account is an error"
    );
    app.stop().await;
}
