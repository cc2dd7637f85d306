//! The webhook outbox in the store: events recorded with the changes that raise them, for the
//! endpoints that want them; claimed per endpoint, one at a time per account, held by a lease
//! that settling names; retried (the account's newer ones pushed back with it), given up, put
//! back by an operator, given up when no endpoint wants them any more, forgotten.

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
    a_claim_is_held_by_its_lease_then_claimed_again,
    a_claim_that_outlived_its_lease_settles_nothing,
    deliveries_no_endpoint_wants_are_given_up_after_a_day_and_failures_forgotten;
    a_failure_pushes_the_accounts_newer_deliveries_back_with_it,
);

/// Endpoint keys, as the webhooks crate draws them from URLs.
const ALL: &str = "ep_all";
const DELETIONS: &str = "ep_crm";

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

async fn claim(store: &DieselStore, endpoint: &str, now: i64) -> Vec<WebhookDelivery> {
    store
        .claim_deliveries(endpoint, now, 30, 100)
        .await
        .expect("claim")
}

/// Claims, delivers and answers each delivery to every endpoint until none is due, in the
/// order claimed.
async fn drain(store: &DieselStore, now: i64) -> Vec<WebhookDelivery> {
    let mut seen = Vec::new();
    for endpoint in [ALL, DELETIONS] {
        loop {
            let claimed = claim(store, endpoint, now).await;
            if claimed.is_empty() {
                break;
            }
            store.delivered(&claimed).await.expect("delivered");
            seen.extend(claimed);
        }
    }
    seen
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
        assert!(delivery.message_id.starts_with("msg_"));
    }
    let mut ids: Vec<&str> = delivered.iter().map(|d| d.message_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), delivered.len(), "a message id per delivery");
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

    let first = claim(store, ALL, NOW + 3).await;
    let kinds: Vec<_> = first.iter().map(|d| d.event_type.as_str()).collect();
    assert_eq!(kinds, ["user.created", "user.created"], "one per account");
    let (failing, other) = (&first[0], &first[1]);
    assert_eq!(failing.user_id.as_deref(), Some(held.user.id.as_str()));
    store
        .delivered(std::slice::from_ref(other))
        .await
        .expect("delivered");
    store
        .attempt_failed(failing, "HTTP 503", Some(NOW + 60), NOW + 3)
        .await
        .expect("failed");
    assert!(
        claim(store, ALL, NOW + 30).await.is_empty(),
        "neither the failed one before its retry nor the account's next event"
    );
    let again = claim(store, ALL, NOW + 60).await;
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].id, again[0].attempts), (failing.id, 2));
    assert_eq!(again[0].last_error.as_deref(), Some("HTTP 503"));
    assert_eq!(
        again[0].message_id, failing.message_id,
        "the same webhook-id"
    );

    // Given up: kept as failed, and the account's next event goes ahead.
    store
        .attempt_failed(&again[0], "HTTP 503", None, NOW + 61)
        .await
        .expect("given up");
    let failed = store.failed_deliveries(0, 10).await.expect("failed");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].failed_at, Some(NOW + 61));
    let next = drain(store, NOW + 62).await;
    let kinds: Vec<_> = next.iter().map(|d| d.event_type.as_str()).collect();
    assert_eq!(kinds, ["session.revoked"]);
    let counts = store.outbox_counts().await.expect("counts");
    assert_eq!((counts.pending, counts.failed), (0, 1));

    // An operator's retry: due at once, with 24 hours and a count of attempts of its own.
    let none = store.retry_failed(Some(failing.id + 1000), NOW + 70).await;
    assert_eq!(none.expect("retry"), 0);
    assert_eq!(store.retry_failed(None, NOW + 70).await.expect("retry"), 1);
    let retried = drain(store, NOW + 70).await;
    assert_eq!(retried.len(), 1);
    assert_eq!(
        (retried[0].id, retried[0].window_start, retried[0].attempts),
        (failing.id, NOW + 70, 1)
    );
    assert!(
        store
            .failed_deliveries(0, 10)
            .await
            .expect("failed")
            .is_empty()
    );
}

async fn a_failure_pushes_the_accounts_newer_deliveries_back_with_it(db: &TestDatabase) {
    let opened = open(db).await;
    let store = routed(&opened).await;
    let login = login_through(store, APP, "pushed", None, NOW).await;
    let logout = Audit::new(AuditKind::Logout, Actor::User, NOW + 1);
    store
        .revoke_session(&login.session.id, &logout)
        .await
        .expect("logout");
    let created = claim(store, ALL, NOW + 2).await.remove(0);
    store
        .attempt_failed(&created, "HTTP 503", Some(NOW + 600), NOW + 2)
        .await
        .expect("failed");
    let next_at: i64 = crate::support::raw_text(
        db,
        "SELECT CAST(min(next_at) AS TEXT) AS text FROM webhook_outbox \
         WHERE event_type = 'session.revoked' AND endpoint = 'ep_all'",
    )
    .parse()
    .expect("a number");
    assert_eq!(next_at, NOW + 600, "not due before the one it waits for");
}

async fn a_claim_is_held_by_its_lease_then_claimed_again(store: &DieselStore) {
    let store = routed(store).await;
    login_through(store, APP, "leased", None, NOW).await;
    let claimed = claim(store, ALL, NOW).await;
    assert_eq!(claimed.len(), 1);
    assert!(
        claim(store, ALL, NOW + 29).await.is_empty(),
        "held by its lease"
    );
    let again = claim(store, ALL, NOW + 30).await;
    assert_eq!(
        again.len(),
        1,
        "a dispatcher that died leaves it to another"
    );
    assert_eq!((again[0].id, again[0].attempts), (claimed[0].id, 2));
    assert!(
        claim(store, DELETIONS, NOW + 30).await.is_empty(),
        "per endpoint"
    );
}

async fn a_claim_that_outlived_its_lease_settles_nothing(store: &DieselStore) {
    let store = routed(store).await;
    login_through(store, APP, "slow", None, NOW).await;
    let late = claim(store, ALL, NOW).await.remove(0);
    let current = claim(store, ALL, NOW + 31).await.remove(0);
    store
        .delivered(std::slice::from_ref(&late))
        .await
        .expect("settled");
    store
        .attempt_failed(&late, "timeout", None, NOW + 40)
        .await
        .expect("settled");
    assert_eq!(
        store.outbox_counts().await.expect("counts").pending,
        1,
        "the late claim neither deleted nor gave up the current one's delivery"
    );
    // Settled together, each by its own claim: the late one still nothing.
    store
        .delivered(&[late.clone(), current.clone()])
        .await
        .expect("delivered");
    assert_eq!(
        store.outbox_counts().await.expect("counts"),
        Default::default()
    );
}

async fn deliveries_no_endpoint_wants_are_given_up_after_a_day_and_failures_forgotten(
    store: &DieselStore,
) {
    let store = routed(store).await;
    login_through(store, APP, "orphan", None, NOW).await;
    let day = 24 * 3600;
    // This instance knows DELETIONS only; ALL may be another instance's (a rolling deploy).
    let known = [DELETIONS.to_owned()];
    let young = store.give_up_unrouted(&known, NOW, NOW + 10).await;
    assert_eq!(
        young.expect("sweep"),
        0,
        "younger than a day: left to others"
    );
    let mine = store
        .give_up_unrouted(&[ALL.to_owned()], NOW + day, NOW + day)
        .await;
    assert_eq!(
        mine.expect("sweep"),
        0,
        "an endpoint this instance has is never swept"
    );
    let old = store.give_up_unrouted(&known, NOW + day, NOW + day).await;
    assert_eq!(old.expect("sweep"), 1);
    let failed = store.failed_deliveries(0, 10).await.expect("failed");
    assert_eq!(failed.len(), 1);
    let error = failed[0].last_error.as_deref().unwrap_or_default();
    assert!(error.contains("WEBHOOKS_FILE"), "{error}");
    let kept = store.purge_failed(NOW + day, 10).await.expect("purge");
    assert_eq!(kept, 0, "given up at that very second: kept");
    assert_eq!(
        store.purge_failed(NOW + day + 1, 10).await.expect("purge"),
        1
    );
    assert_eq!(
        store.outbox_counts().await.expect("counts"),
        Default::default()
    );
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
                        .claim_deliveries(ALL, NOW, 30, 7)
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
