//! The admin listener's keys: only a listed key opens it, checked before anything else; a key
//! taken out of the file is refused after a restart; nothing of it on the public listener.

use wxlogin_e2e::assert_error;
use wxlogin_user_store::testing::TestDatabase;

use crate::support::{KEY, KeysFile, OTHER_KEY, audit, spawn_admin};

wxlogin_e2e::on_both_databases!(
    admin_routes_take_only_a_listed_key_and_are_not_on_the_public_listener,
);

async fn admin_routes_take_only_a_listed_key_and_are_not_on_the_public_listener(db: &TestDatabase) {
    let keys = KeysFile::new(&[KEY, OTHER_KEY]);
    let app = spawn_admin(db, &keys).await;
    let user = app.log_in("cy.1").await.user;
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
