//! A receiver that is down for a while loses nothing: once it is back, every event arrives,
//! each account's in the order of its changes, and none twice once it was taken.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use wxlogin_e2e::TestApp;
use wxlogin_user_store::testing::TestDatabase;

use crate::support::{
    ALL_EVENTS, Hook, Login, Received, Receiver, admin, keys_file, metric, new_secret,
    spawn_with_webhooks, wait_for_metric, webhooks_file,
};

wxlogin_e2e::on_both_databases!(a_receiver_down_then_back_gets_every_event_in_order_once);

/// Each account's changes, in order, and the event (type, reason) each raises.
const EXPECTED: &[(&str, Option<&str>)] = &[
    ("user.created", None),
    ("session.revoked", Some("logout")),
    ("session.revoked", Some("logout_everywhere")),
    ("session.revoked", Some("operator")),
    ("user.banned", None),
    ("user.unbanned", None),
    ("user.deleted", None),
];

const ACCOUNTS: usize = 4;

async fn a_receiver_down_then_back_gets_every_event_in_order_once(db: &TestDatabase) {
    let receiver = Receiver::start();
    receiver.set_up(false);
    let secret = new_secret();
    let hooks = webhooks_file(&[Hook {
        url: &receiver.url("/hooks"),
        secret: &secret,
        events: ALL_EVENTS,
    }]);
    let keys = keys_file();
    let app = spawn_with_webhooks(db, &hooks, &keys).await;
    let down_since = Instant::now();

    // Each step for every account before the next step: the accounts' events interleave.
    let names: Vec<String> = (0..ACCOUNTS).map(|n| format!("pat{n}")).collect();
    let mut users = Vec::new();
    for name in &names {
        let Login { user, token, .. } = app.log_in(&format!("{name}.1")).await;
        users.push(user);
        assert_eq!(app.logout(&token).await.status, 204);
    }
    for name in &names {
        let Login { token, .. } = app.log_in(&format!("{name}.2")).await;
        let out = app
            .request(
                "POST",
                "/api/logout",
                Some(&format!("Bearer {token}")),
                Some(r#"{"everywhere":true}"#),
            )
            .await;
        assert_eq!(out.status, 204, "{}", out.text);
    }
    for (name, user) in names.iter().zip(&users) {
        app.log_in(&format!("{name}.3")).await;
        end_the_active_session(&app, user).await;
    }
    for user in &users {
        admin(
            &app,
            "POST",
            &format!("/admin/users/{user}/ban"),
            Some(r#"{"reason":"spam"}"#),
        )
        .await;
    }
    for user in &users {
        admin(&app, "POST", &format!("/admin/users/{user}/unban"), None).await;
    }
    for user in &users {
        admin(&app, "DELETE", &format!("/admin/users/{user}"), None).await;
    }

    receiver
        .wait_until("a first attempt, refused", Duration::from_secs(10), |got| {
            !got.is_empty()
        })
        .await;
    let outage = Duration::from_secs(3);
    actix_web::rt::time::sleep(outage.saturating_sub(down_since.elapsed())).await;
    receiver.set_up(true);

    let total = ACCOUNTS * EXPECTED.len();
    let requests = receiver
        .wait_until(
            &format!("all {total} events taken"),
            Duration::from_secs(45),
            |got| got.iter().filter(|r| r.taken()).count() >= total,
        )
        .await;
    let taken: Vec<&Received> = requests.iter().filter(|r| r.taken()).collect();

    for user in &users {
        let got: Vec<(String, Option<String>)> = taken
            .iter()
            .filter(|r| &r.user_id() == user)
            .map(|r| {
                let reason = r.json()["data"]["reason"].as_str().map(str::to_owned);
                (r.event_type(), reason)
            })
            .collect();
        let expected: Vec<(String, Option<String>)> = EXPECTED
            .iter()
            .map(|(kind, reason)| ((*kind).to_owned(), reason.map(str::to_owned)))
            .collect();
        assert_eq!(got, expected, "account {user}, in order");
    }
    let mut times_taken: HashMap<&str, usize> = HashMap::new();
    for delivery in &taken {
        *times_taken.entry(delivery.webhook_id()).or_default() += 1;
    }
    let twice: Vec<_> = times_taken.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "taken more than once: {twice:?}");
    for refused in requests.iter().filter(|r| !r.taken()) {
        assert!(
            times_taken.contains_key(refused.webhook_id()),
            "a refused attempt's webhook-id is the one its delivery is finally taken with: \
             {refused:?}"
        );
    }

    wait_for_metric(
        &app,
        "wxlogin_webhooks_pending",
        0.0,
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(
        metric(&app, "wxlogin_webhooks_delivered_total").await,
        total as f64
    );
    assert!(metric(&app, "wxlogin_webhooks_attempts_failed_total").await >= 1.0);
    assert_eq!(metric(&app, "wxlogin_webhooks_failed").await, 0.0);
    app.stop().await;
}

/// An operator ends `user`'s one active session.
async fn end_the_active_session(app: &TestApp, user: &str) {
    let listed = admin(app, "GET", &format!("/admin/users/{user}/sessions"), None).await;
    let active: Vec<String> = listed.json["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .filter(|s| s["state"] == "active")
        .filter_map(|s| s["id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(active.len(), 1, "{}", listed.text);
    admin(
        app,
        "DELETE",
        &format!("/admin/sessions/{}", active[0]),
        None,
    )
    .await;
}
