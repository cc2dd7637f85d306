//! An account's sessions as operators see them, one ended; an account deleted by an operator
//! and found again by identity.

use wxlogin_e2e::assert_error;
use wxlogin_user_store::testing::TestDatabase;

use crate::support::{KEY, KeysFile, spawn_admin};

wxlogin_e2e::on_both_databases!(
    sessions_are_listed_with_their_address_and_one_can_be_ended,
    an_operator_deletes_an_account_without_its_owner,
);

async fn sessions_are_listed_with_their_address_and_one_can_be_ended(db: &TestDatabase) {
    let keys = KeysFile::new(&[KEY]);
    let app = spawn_admin(db, &keys).await;
    let first = app.log_in("dee.1").await;
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
    let login = app.log_in("eve.1").await;
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
