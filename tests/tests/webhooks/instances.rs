//! Two instances on one PostgreSQL database, both dispatching: each event is delivered once.

use std::collections::HashMap;
use std::time::Duration;

use wxlogin_user_store::testing::TestDatabase;

use crate::support::{
    Hook, Receiver, keys_file, metric, new_secret, restart_with_webhooks, spawn_with_webhooks,
    wait_for_metric, webhooks_file,
};

const LOGINS: usize = 50;

/// PostgreSQL only: one process serves a SQLite file.
#[actix_rt::test]
async fn two_instances_never_deliver_one_event_twice() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    let receiver = Receiver::start();
    let secret = new_secret();
    let hooks = webhooks_file(&[Hook {
        url: &receiver.url("/hooks"),
        secret: &secret,
        events: &["user.created"],
    }]);
    let keys = keys_file();
    let a = spawn_with_webhooks(&db, &hooks, &keys).await;
    let b = restart_with_webhooks(&a, &db, &hooks, &keys).await;

    let mut users = Vec::new();
    for n in 0..LOGINS {
        let instance = if n % 2 == 0 { &a } else { &b };
        users.push(instance.log_in(&format!("new{n}.1")).await.user);
    }

    receiver
        .wait_until(
            &format!("{LOGINS} accounts' user.created taken"),
            Duration::from_secs(30),
            |got| got.iter().filter(|r| r.taken()).count() >= LOGINS,
        )
        .await;
    for instance in [&a, &b] {
        wait_for_metric(
            instance,
            "wxlogin_webhooks_pending",
            0.0,
            Duration::from_secs(10),
        )
        .await;
    }
    let requests = receiver.requests();
    let mut by_id: HashMap<&str, usize> = HashMap::new();
    let mut by_user: HashMap<String, usize> = HashMap::new();
    for request in &requests {
        assert!(request.taken(), "the receiver was up: {request:?}");
        assert_eq!(request.event_type(), "user.created", "{request:?}");
        *by_id.entry(request.webhook_id()).or_default() += 1;
        *by_user.entry(request.user_id()).or_default() += 1;
    }
    assert!(
        by_id.values().all(|n| *n == 1),
        "a webhook-id twice: {by_id:?}"
    );
    assert_eq!(by_id.len(), LOGINS);
    for user in &users {
        assert_eq!(
            by_user.get(user),
            Some(&1),
            "user.created of {user}: {by_user:?}"
        );
    }
    assert_eq!(by_user.len(), LOGINS, "{by_user:?}");
    let delivered = metric(&a, "wxlogin_webhooks_delivered_total").await
        + metric(&b, "wxlogin_webhooks_delivered_total").await;
    assert_eq!(
        delivered, LOGINS as f64,
        "deliveries counted by the two instances"
    );
    b.stop().await;
    a.stop().await;
}
