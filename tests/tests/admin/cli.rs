//! `wxlogin-server admin ...`: the same use cases as the admin API, heard by the running
//! server within a second.

use std::time::{Duration, Instant};

use wxlogin_e2e::assert_error;
use wxlogin_user_store::testing::TestDatabase;

use crate::support::{KEY, KeysFile, audit, spawn_admin};

wxlogin_e2e::on_both_databases!(the_command_line_bans_through_the_same_use_cases,);

async fn the_command_line_bans_through_the_same_use_cases(db: &TestDatabase) {
    use wxlogin_server::admin_command::AdminCommand;
    let keys = KeysFile::new(&[KEY]);
    let app = spawn_admin(db, &keys).await;
    let login = app.log_in("hal.1").await;
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
