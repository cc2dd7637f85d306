//! The audit log over HTTP: an entry of every kind a session of use makes, none holding a
//! secret, one account's by filter.

use wxlogin_e2e::assert_error;
use wxlogin_user_store::testing::TestDatabase;

use crate::support::{KEY, KeysFile, audit, ban, refresh, spawn_admin_env, unix_now};

wxlogin_e2e::on_both_databases!(the_audit_log_records_every_kind_of_change_and_no_secret,);

async fn the_audit_log_records_every_kind_of_change_and_no_secret(db: &TestDatabase) {
    let keys = KeysFile::new(&[KEY]);
    // No reuse window: a token two steps back is a theft signal at once.
    let app = spawn_admin_env(db, &keys, &[("REFRESH_REUSE_SECS", "0")]).await;
    let mut secrets: Vec<String> = Vec::new();
    let login = app.log_in("fay.1").await;
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
    let gone_user = app.log_in("gus.1").await.user;
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
