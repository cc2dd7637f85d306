//! The dispatcher over a mocked outbox and real local receivers: what it claims it sends,
//! it settles each delivery as the receiver answered, and its sweep gives up only what no
//! instance can send.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use mockall::predicate::eq;
use wxlogin_domain::{ManualClock, MockWebhookOutbox, WebhookDelivery};
use wxlogin_webhooks::{Dispatcher, LEASE_SECS, MOST_PER_ROUND, Sender};

mod support;
use support::{Behaviour, Receiver};

const NOW: i64 = 1_800_000_000;

fn delivery(id: i64, endpoint: &str, attempts: u32, window_start: i64) -> WebhookDelivery {
    WebhookDelivery {
        id,
        message_id: format!("msg_{id}"),
        endpoint: endpoint.to_owned(),
        user_id: Some("u1".into()),
        event_type: "user.created".into(),
        payload: format!(r#"{{"type":"user.created","data":{{"n":{id}}}}}"#),
        created_at: window_start,
        attempts,
        window_start,
        leased_until: NOW + LEASE_SECS,
        last_error: None,
        failed_at: None,
    }
}

const KEPT: Duration = Duration::from_secs(90 * 86_400);

fn dispatcher(outbox: MockWebhookOutbox, receivers: &[&Receiver]) -> Dispatcher {
    Dispatcher::new(
        Arc::new(outbox),
        receivers.iter().map(|r| r.endpoint("/hook")).collect(),
        Sender::new(Duration::from_secs(5)).unwrap(),
        Arc::new(ManualClock::new(NOW)),
        KEPT,
    )
}

/// The key deliveries to `receiver` are recorded under.
fn key(receiver: &Receiver) -> String {
    receiver.endpoint("/hook").key().to_owned()
}

#[tokio::test]
async fn a_taken_delivery_leaves_the_outbox_with_its_message_id_sent() {
    let mut receiver = Receiver::start(Behaviour::Answer("204 No Content")).await;
    let mut outbox = MockWebhookOutbox::new();
    let claimed = vec![delivery(7, &key(&receiver), 1, NOW)];
    outbox
        .expect_claim_deliveries()
        .with(
            eq(key(&receiver)),
            eq(NOW),
            eq(LEASE_SECS),
            eq(MOST_PER_ROUND),
        )
        .times(1)
        .return_once(move |_, _, _, _| Ok(claimed));
    outbox
        .expect_delivered()
        .withf(|d| d.len() == 1 && d[0].id == 7 && d[0].leased_until == NOW + LEASE_SECS)
        .times(1)
        .returning(|_| Ok(()));
    let dispatcher = dispatcher(outbox, &[&receiver]);

    let endpoint = &dispatcher.endpoints()[0];
    assert_eq!(dispatcher.dispatch_once(endpoint).await.unwrap(), 1);

    let request = receiver.only_request().await;
    assert_eq!(request.header("webhook-id"), Some("msg_7"));
    assert_eq!(request.header("webhook-timestamp"), Some("1800000000"));
    assert!(request.body.contains(r#""n":7"#));
    assert_eq!(dispatcher.stats().delivered(), 1);
}

#[tokio::test]
async fn a_refused_delivery_is_retried_on_the_schedule_then_given_up_after_a_day() {
    let receiver = Receiver::start(Behaviour::Answer("503 Service Unavailable")).await;
    let mut outbox = MockWebhookOutbox::new();
    let claimed = vec![
        // A first attempt: again in a second.
        delivery(1, &key(&receiver), 1, NOW),
        // Its 24 hours nearly over: the next wait would pass them.
        delivery(2, &key(&receiver), 12, NOW - 24 * 3600 + 60),
    ];
    outbox
        .expect_claim_deliveries()
        .return_once(move |_, _, _, _| Ok(claimed));
    outbox
        .expect_attempt_failed()
        .withf(|d, error, retry_at, now| {
            d.id == 1 && error.contains("503") && *retry_at == Some(NOW + 1) && *now == NOW
        })
        .times(1)
        .returning(|_, _, _, _| Ok(()));
    outbox
        .expect_attempt_failed()
        .withf(|d, _, retry_at, _| d.id == 2 && retry_at.is_none())
        .times(1)
        .returning(|_, _, _, _| Ok(()));
    let dispatcher = dispatcher(outbox, &[&receiver]);

    let endpoint = &dispatcher.endpoints()[0];
    assert_eq!(dispatcher.dispatch_once(endpoint).await.unwrap(), 2);
    let stats = dispatcher.stats();
    assert_eq!(
        (stats.delivered(), stats.attempts_failed(), stats.given_up()),
        (0, 2, 1)
    );
}

#[tokio::test]
async fn the_sweep_gives_up_only_what_no_endpoint_here_has_wanted_for_a_day_and_forgets_old_failures()
 {
    let receiver = Receiver::start(Behaviour::Answer("204 No Content")).await;
    let known = vec![key(&receiver)];
    let mut outbox = MockWebhookOutbox::new();
    outbox
        .expect_give_up_unrouted()
        .with(eq(known), eq(NOW - 24 * 3600), eq(NOW))
        .times(1)
        .returning(|_, _, _| Ok(2));
    let kept = i64::try_from(KEPT.as_secs()).unwrap();
    let mut batches = vec![5000, 17].into_iter();
    outbox
        .expect_purge_failed()
        .with(eq(NOW - kept), eq(5000))
        .times(2)
        .returning(move |_, _| Ok(batches.next().unwrap()));
    let dispatcher = dispatcher(outbox, &[&receiver]);

    assert_eq!(dispatcher.sweep().await.unwrap(), (2, 5017));
    assert_eq!(dispatcher.stats().given_up(), 2);
}
