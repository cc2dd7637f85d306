//! The deliveries are Standard Webhooks: the reference library (JavaScript, not ours) verifies
//! every one, and no payload holds an openid, a token, a code or a session_key.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use wxlogin_user_store::testing::TestDatabase;

use crate::support::{
    ALL_EVENTS, Hook, Received, Receiver, TempFile, admin, keys_file, new_secret,
    spawn_with_webhooks, types_for, webhooks_file,
};

wxlogin_e2e::on_both_databases!(
    a_standard_webhooks_library_we_did_not_write_accepts_every_delivery
);

async fn a_standard_webhooks_library_we_did_not_write_accepts_every_delivery(db: &TestDatabase) {
    let receiver = Receiver::start();
    let secret = new_secret();
    let url = receiver.url("/hooks?tenant=7");
    let hooks = webhooks_file(&[Hook {
        url: &url,
        secret: &secret,
        events: ALL_EVENTS,
    }]);
    let keys = keys_file();
    let app = spawn_with_webhooks(db, &hooks, &keys).await;

    let first = app.log_in("ann.1").await;
    assert_eq!(app.logout(&first.token).await.status, 204);
    let second = app.log_in("ann.2").await;
    let user = first.user.clone();
    admin(
        &app,
        "POST",
        &format!("/admin/users/{user}/ban"),
        Some(r#"{"reason":"spam"}"#),
    )
    .await;
    admin(&app, "POST", &format!("/admin/users/{user}/unban"), None).await;
    let third = app.log_in("ann.3").await;
    let deleted = app
        .request(
            "DELETE",
            "/api/me",
            Some(&format!("Bearer {}", third.token)),
            Some(r#"{"code":"ann.4"}"#),
        )
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);

    let taken = receiver
        .wait_until(
            "the deletion is delivered",
            Duration::from_secs(30),
            |got| {
                got.iter()
                    .any(|r| r.taken() && r.event_type() == "user.deleted")
            },
        )
        .await;
    let taken: Vec<Received> = taken.into_iter().filter(Received::taken).collect();
    assert_eq!(
        types_for(&taken, &user),
        [
            "user.created",
            "session.revoked",
            "user.banned",
            "user.unbanned",
            "user.deleted"
        ],
        "{taken:#?}"
    );
    let revoked = taken
        .iter()
        .find(|r| r.event_type() == "session.revoked")
        .expect("the logout's event")
        .json();
    assert_eq!(revoked["data"]["reason"], "logout", "{revoked}");
    for delivery in &taken {
        assert_eq!(
            delivery.path, "/hooks?tenant=7",
            "delivered to the URL as written"
        );
        let body = delivery.json();
        assert!(body["timestamp"].as_str().is_some(), "{body}");
        assert!(delivery.webhook_id().starts_with("msg_"), "{delivery:?}");
        for secret_thing in [
            app.fake.openid_for("ann"),
            app.fake.session_key_for("ann.1"),
            first.token.clone(),
            first.refresh.clone(),
            second.token.clone(),
            second.refresh.clone(),
            third.token.clone(),
            "ann.1".to_owned(),
            "ann.4".to_owned(),
        ] {
            assert!(
                !delivery.body.contains(&secret_thing),
                "a payload holds {secret_thing:?}: {}",
                delivery.body
            );
        }
    }

    verify_with_the_reference_library(&secret, &taken);
    app.stop().await;
}

/// Runs `tests/standard-webhooks/verify.mjs` (the `standardwebhooks` npm package) on the
/// deliveries; skipped with a reason where it is not installed, except under CI.
fn verify_with_the_reference_library(secret: &str, deliveries: &[Received]) {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("standard-webhooks");
    let installed = folder.join("node_modules/standardwebhooks").is_dir()
        && Command::new("node")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    if !installed {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(
            !ci,
            "under CI the Standard Webhooks library must be installed: \
             node, and `npm ci` in {}",
            folder.display()
        );
        eprintln!(
            "SKIPPED the Standard Webhooks check: node or {}/node_modules is missing \
             (run `npm ci` there)",
            folder.display()
        );
        return;
    }
    let entries: Vec<serde_json::Value> = deliveries
        .iter()
        .map(|delivery| {
            let header = |name: &str| delivery.headers.get(name).cloned().unwrap_or_default();
            serde_json::json!({
                "secret": secret,
                "headers": {
                    "webhook-id": header("webhook-id"),
                    "webhook-timestamp": header("webhook-timestamp"),
                    "webhook-signature": header("webhook-signature"),
                },
                "body": delivery.body,
            })
        })
        .collect();
    let file = TempFile::new(
        "deliveries.json",
        &serde_json::Value::from(entries).to_string(),
    );
    let verified = Command::new("node")
        .arg(folder.join("verify.mjs"))
        .arg(file.path())
        .output()
        .expect("node runs");
    assert!(
        verified.status.success(),
        "the Standard Webhooks library refused a delivery: {}{}",
        String::from_utf8_lossy(&verified.stdout),
        String::from_utf8_lossy(&verified.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&verified.stdout).trim(),
        format!("verified {} deliveries", deliveries.len())
    );
}
