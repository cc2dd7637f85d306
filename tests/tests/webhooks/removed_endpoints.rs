//! A delivery whose endpoint left `WEBHOOKS_FILE` waits (another instance, in a rolling deploy,
//! may still have it); a day after it was recorded it is given up, shown to operators (at
//! `GET /admin/webhooks/failed` and in `wxlogin_webhooks_failed`) and, once the endpoint is
//! back, sent again on request: one by id, the rest all at once.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value;
use wxlogin_e2e::TestApp;
use wxlogin_user_store::testing::TestDatabase;

use crate::support::{
    Hook, Receiver, admin, keys_file, new_secret, spawn_sharing, start_fake, wait_for_metric,
    webhooks_file,
};

wxlogin_e2e::on_both_databases!(an_endpoint_removed_waits_a_day_then_is_given_up_shown_and_retried);

async fn an_endpoint_removed_waits_a_day_then_is_given_up_shown_and_retried(db: &TestDatabase) {
    let receiver = Receiver::start();
    receiver.set_up(false);
    let secret = new_secret();
    let with_query = receiver.url("/hooks?tenant=7");
    let events = &["user.created"];
    let first_file = webhooks_file(&[Hook {
        url: &with_query,
        secret: &secret,
        events,
    }]);
    let elsewhere = receiver.url("/elsewhere");
    let other_file = webhooks_file(&[Hook {
        url: &elsewhere,
        secret: &new_secret(),
        events,
    }]);
    let keys = keys_file();
    let (running, fake) = start_fake().await;

    let app = spawn_sharing(db, &fake, &first_file, &keys).await;
    let ida = app.log_in("ida.1").await.user;
    let joe = app.log_in("joe.1").await.user;
    let refused = receiver
        .wait_until(
            "a refused attempt of each",
            Duration::from_secs(10),
            |got| {
                [&ida, &joe]
                    .iter()
                    .all(|user| got.iter().any(|r| &&r.user_id() == user))
            },
        )
        .await;
    let message_of: HashMap<String, String> = refused
        .iter()
        .map(|r| (r.user_id(), r.webhook_id().to_owned()))
        .collect();
    app.stop().await;

    // Restarted without that endpoint: both deliveries wait, sent to no one.
    let app = spawn_sharing(db, &fake, &other_file, &keys).await;
    wait_for_metric(
        &app,
        "wxlogin_webhooks_pending",
        2.0,
        Duration::from_secs(10),
    )
    .await;
    assert!(wait_for_failed(&app, 0).await.is_empty(), "not given up");
    app.stop().await;

    // A day later (the rows aged by hand), the sweep at start gives them up, and shows them.
    wxlogin_user_store::testing::execute_sql(
        db.url(),
        "UPDATE webhook_outbox SET window_start = window_start - 90000",
    );
    let app = spawn_sharing(db, &fake, &other_file, &keys).await;
    let failed = wait_for_failed(&app, 2).await;
    for delivery in &failed {
        let user = delivery["userId"].as_str().expect("userId").to_owned();
        assert!(user == ida || user == joe, "{delivery}");
        assert_eq!(
            delivery["messageId"].as_str(),
            Some(message_of[&user].as_str()),
            "{delivery}"
        );
        assert_eq!(delivery["eventType"], "user.created", "{delivery}");
        let endpoint = delivery["endpoint"].as_str().unwrap_or_default();
        assert!(
            endpoint.starts_with("ep_") && endpoint.ends_with("(not configured here)"),
            "named by its key, never its URL: {delivery}"
        );
        assert!(
            delivery["lastError"]
                .as_str()
                .is_some_and(|e| e.contains("WEBHOOKS_FILE")),
            "{delivery}"
        );
        assert!(delivery["attempts"].as_u64().is_some(), "{delivery}");
        for field in ["id", "createdAt", "failedAt"] {
            assert!(!delivery[field].is_null(), "{field}: {delivery}");
        }
    }
    wait_for_metric(
        &app,
        "wxlogin_webhooks_failed",
        2.0,
        Duration::from_secs(10),
    )
    .await;
    assert!(
        receiver.requests().iter().all(|r| r.path != "/elsewhere"),
        "the other endpoint heard nothing"
    );
    app.stop().await;

    // The endpoint back and up: retried by id, then all the rest.
    receiver.set_up(true);
    let app = spawn_sharing(db, &fake, &first_file, &keys).await;
    let failed = wait_for_failed(&app, 2).await;
    let ida_delivery = failed
        .iter()
        .find(|d| d["userId"] == ida.as_str())
        .expect("ida's delivery");
    assert_eq!(
        ida_delivery["endpoint"],
        receiver.url(""),
        "configured here: scheme://host:port, no path or query"
    );
    let id = match &ida_delivery["id"] {
        Value::String(id) => id.clone(),
        id => id.to_string(),
    };
    let retried = admin(
        &app,
        "POST",
        &format!("/admin/webhooks/failed/{id}/retry"),
        None,
    )
    .await;
    assert_eq!(retried.json["retried"], 1, "{}", retried.text);
    arrives(&receiver, &ida, &message_of[&ida]).await;
    let retried = admin(&app, "POST", "/admin/webhooks/failed/retry", None).await;
    assert_eq!(retried.json["retried"], 1, "{}", retried.text);
    arrives(&receiver, &joe, &message_of[&joe]).await;
    assert!(wait_for_failed(&app, 0).await.is_empty());
    wait_for_metric(
        &app,
        "wxlogin_webhooks_failed",
        0.0,
        Duration::from_secs(10),
    )
    .await;
    app.stop().await;
    running.stop().await;
}

/// Waits (at most 30 s) until `GET /admin/webhooks/failed` lists `count` deliveries (at once
/// for 0).
async fn wait_for_failed(app: &TestApp, count: usize) -> Vec<Value> {
    let since = Instant::now();
    loop {
        let page = admin(app, "GET", "/admin/webhooks/failed", None).await;
        let deliveries = page.json["deliveries"]
            .as_array()
            .unwrap_or_else(|| panic!("deliveries: {}", page.text))
            .clone();
        // Fewer than a page (100): this is all of them.
        if deliveries.len() == count {
            return deliveries;
        }
        assert!(
            since.elapsed() < Duration::from_secs(30),
            "not {count} failed deliveries within 30 s: {}",
            page.text
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits (at most 30 s) until `user`'s `user.created` is taken at the original URL, under the
/// webhook-id its first attempts had.
async fn arrives(receiver: &Receiver, user: &str, message: &str) {
    let got = receiver
        .wait_until(
            &format!("{user}'s user.created taken as {message}"),
            Duration::from_secs(30),
            |got| got.iter().any(|r| r.taken() && r.user_id() == user),
        )
        .await;
    let taken: Vec<_> = got
        .iter()
        .filter(|r| r.taken() && r.user_id() == user)
        .collect();
    assert_eq!(taken.len(), 1, "{taken:#?}");
    assert_eq!(taken[0].webhook_id(), message);
    assert_eq!(taken[0].path, "/hooks?tenant=7");
}
