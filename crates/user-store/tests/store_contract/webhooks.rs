//! The webhook outbox in the store: events recorded with the changes that raise them, for the
//! endpoints that want them; claimed oldest first, one at a time per account and endpoint,
//! held by a lease; retried, given up, and put back by an operator.

use wxlogin_domain::{
    Actor, Audit, AuditKind, OperatorStore, SessionStore, UserStore, WebhookDelivery,
    WebhookOutbox, WebhookRoutes,
};
use wxlogin_user_store::DieselStore;
use wxlogin_user_store::testing::TestDatabase;

use crate::support::{APP, NOW, login_through, open, openid};

contract!(
    changes_record_their_events_in_order_for_the_endpoints_that_want_them,
    a_store_without_routes_records_nothing,
    a_failing_delivery_holds_back_its_accounts_newer_events_only,
    a_claim_is_held_by_its_lease_then_claimed_again;
);

const ALL: &str = "https://all.example/hook";
const DELETIONS: &str = "https://crm.example/hook";

fn routes() -> WebhookRoutes {
    WebhookRoutes::new(vec![
        (
            ALL.into(),
            wxlogin_domain::WEBHOOK_EVENT_TYPES
                .iter()
                .map(|t| (*t).to_owned())
                .collect(),
        ),
        (DELETIONS.into(), vec!["user.deleted".into()]),
    ])
}

async fn routed(store: &DieselStore) -> &DieselStore {
    assert!(store.route_webhooks(routes()));
    assert!(!store.route_webhooks(WebhookRoutes::default()), "set once");
    store
}

/// Claims, delivers and answers each delivery until none is due, in the order claimed.
async fn drain(store: &DieselStore, now: i64) -> Vec<WebhookDelivery> {
    let mut seen = Vec::new();
    loop {
        let claimed = store.claim_deliveries(now, 30, 100).await.expect("claim");
        if claimed.is_empty() {
            return seen;
        }
        for delivery in claimed {
            store.delivered(delivery.id).await.expect("delivered");
            seen.push(delivery);
        }
    }
}

async fn changes_record_their_events_in_order_for_the_endpoints_that_want_them(
    store: &DieselStore,
) {
    let store = routed(store).await;
    let first = login_through(store, APP, "hooked", None, NOW).await;
    let user = first.user.id.clone();
    login_through(store, APP, "hooked", None, NOW + 1).await;
    let logout = Audit::new(AuditKind::Logout, Actor::User, NOW + 2);
    assert!(
        store
            .revoke_session(&first.session.id, &logout)
            .await
            .expect("logout")
    );
    let admin = Actor::Admin("key-test".into());
    store
        .ban(
            &user,
            "spam",
            &Audit::new(AuditKind::Ban, admin.clone(), NOW + 3),
        )
        .await
        .expect("ban");
    store
        .unban(&user, &Audit::new(AuditKind::Unban, admin, NOW + 4))
        .await
        .expect("unban");
    let deletion = Audit::new(AuditKind::Deletion, Actor::User, NOW + 5);
    store
        .delete_account(&user, APP, &openid("hooked"), &deletion)
        .await
        .expect("delete")
        .expect("deleted");

    let delivered = drain(store, NOW + 10).await;
    let to = |endpoint: &str| {
        delivered
            .iter()
            .filter(|d| d.endpoint == endpoint)
            .map(|d| d.event_type.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        to(ALL),
        [
            "user.created",
            "session.revoked",
            "user.banned",
            "user.unbanned",
            "user.deleted"
        ],
        "a returning login raises nothing; the sessions a ban ends are in user.banned"
    );
    assert_eq!(to(DELETIONS), ["user.deleted"]);
    let created: serde_json::Value = serde_json::from_str(&delivered[0].payload).expect("JSON");
    assert_eq!(created["type"], "user.created");
    assert_eq!(created["data"]["userId"], user.as_str());
    assert_eq!(created["data"]["appid"], APP);
    for delivery in &delivered {
        assert!(
            !delivery.payload.contains("openid-hooked"),
            "no openid in {}",
            delivery.payload
        );
        assert_eq!(delivery.user_id.as_deref(), Some(user.as_str()));
    }
    assert_eq!(
        store.outbox_counts().await.expect("counts"),
        Default::default()
    );
}

async fn a_store_without_routes_records_nothing(store: &DieselStore) {
    let login = login_through(store, APP, "unhooked", None, NOW).await;
    let logout = Audit::new(AuditKind::Logout, Actor::User, NOW + 1);
    store
        .revoke_session(&login.session.id, &logout)
        .await
        .expect("logout");
    assert!(drain(store, NOW + 10).await.is_empty());
}

async fn a_failing_delivery_holds_back_its_accounts_newer_events_only(store: &DieselStore) {
    let store = routed(store).await;
    let held = login_through(store, APP, "held", None, NOW).await;
    let logout = Audit::new(AuditKind::Logout, Actor::User, NOW + 1);
    store
        .revoke_session(&held.session.id, &logout)
        .await
        .expect("logout");
    login_through(store, APP, "free", None, NOW + 2).await;

    let first = store
        .claim_deliveries(NOW + 3, 30, 100)
        .await
        .expect("claim");
    let kinds: Vec<_> = first.iter().map(|d| d.event_type.as_str()).collect();
    assert_eq!(kinds, ["user.created", "user.created"], "one per account");
    let (failing, other) = (&first[0], &first[1]);
    assert_eq!(failing.user_id.as_deref(), Some(held.user.id.as_str()));
    store.delivered(other.id).await.expect("delivered");
    store
        .attempt_failed(failing.id, "HTTP 503", Some(NOW + 60), NOW + 3)
        .await
        .expect("failed");
    assert!(
        store
            .claim_deliveries(NOW + 30, 30, 100)
            .await
            .expect("claim")
            .is_empty(),
        "neither the failed one before its retry nor the account's next event"
    );
    let again = store
        .claim_deliveries(NOW + 60, 30, 100)
        .await
        .expect("claim");
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].id, again[0].attempts), (failing.id, 2));
    assert_eq!(again[0].last_error.as_deref(), Some("HTTP 503"));

    // Given up: kept as failed, and the account's next event goes ahead.
    store
        .attempt_failed(failing.id, "HTTP 503", None, NOW + 61)
        .await
        .expect("given up");
    let failed = store.failed_deliveries(0, 10).await.expect("failed");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].failed_at, Some(NOW + 61));
    let next = drain(store, NOW + 62).await;
    assert_eq!(
        next.iter()
            .map(|d| d.event_type.as_str())
            .collect::<Vec<_>>(),
        ["session.revoked"]
    );
    let counts = store.outbox_counts().await.expect("counts");
    assert_eq!((counts.pending, counts.failed), (0, 1));

    // An operator's retry: due at once, with 24 hours of its own.
    assert_eq!(
        store
            .retry_failed(Some(failing.id + 1000), NOW + 70)
            .await
            .expect("retry"),
        0
    );
    assert_eq!(store.retry_failed(None, NOW + 70).await.expect("retry"), 1);
    let retried = drain(store, NOW + 70).await;
    assert_eq!(retried.len(), 1);
    assert_eq!(
        (retried[0].id, retried[0].window_start),
        (failing.id, NOW + 70)
    );
    assert!(
        store
            .failed_deliveries(0, 10)
            .await
            .expect("failed")
            .is_empty()
    );
}

async fn a_claim_is_held_by_its_lease_then_claimed_again(store: &DieselStore) {
    let store = routed(store).await;
    login_through(store, APP, "leased", None, NOW).await;
    let claimed = store.claim_deliveries(NOW, 30, 100).await.expect("claim");
    assert_eq!(claimed.len(), 1);
    assert!(
        store
            .claim_deliveries(NOW + 29, 30, 100)
            .await
            .expect("claim")
            .is_empty(),
        "held by its lease"
    );
    let again = store
        .claim_deliveries(NOW + 30, 30, 100)
        .await
        .expect("claim");
    assert_eq!(
        again.len(),
        1,
        "a dispatcher that died leaves it to another"
    );
    assert_eq!((again[0].id, again[0].attempts), (claimed[0].id, 2));
}

/// Two dispatchers (two pools, as two instances) claiming at once never claim one delivery
/// twice: PostgreSQL's `FOR UPDATE SKIP LOCKED`. SQLite is one process.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_never_claim_one_delivery() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    let (a, b) = (open(&db).await, open(&db).await);
    assert!(a.route_webhooks(routes()));
    for i in 0..200 {
        login_through(&a, APP, &format!("racer-{i}"), None, NOW).await;
    }
    let (a, b) = (std::sync::Arc::new(a), std::sync::Arc::new(b));
    let claim = |store: std::sync::Arc<DieselStore>| {
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for _ in 0..20 {
                ids.extend(
                    store
                        .claim_deliveries(NOW, 30, 7)
                        .await
                        .expect("claim")
                        .into_iter()
                        .map(|d| d.id),
                );
            }
            ids
        })
    };
    let (from_a, from_b) = (claim(a.clone()), claim(b.clone()));
    let mut ids = from_a.await.expect("a");
    ids.extend(from_b.await.expect("b"));
    let claimed = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), claimed, "no delivery claimed twice");
    assert_eq!(claimed, 200, "every one claimed by one of them");
}
