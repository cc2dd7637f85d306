//! The dispatcher over a mocked outbox and real local receivers: what it claims it sends,
//! and it settles each delivery as the receiver answered.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;

use mockall::predicate::eq;
use wxlogin_domain::{ManualClock, MockWebhookOutbox, WebhookDelivery};
use wxlogin_webhooks::{Dispatcher, LEASE_SECS, MOST_PER_ROUND, Sender};

mod support;
use support::{Behaviour, Receiver};

const NOW: i64 = 1_800_000_000;

fn delivery(id: i64, endpoint: &str, attempts: u32, window_start: i64) -> WebhookDelivery {
    WebhookDelivery {
        id,
        endpoint: endpoint.to_owned(),
        user_id: Some("u1".into()),
        event_type: "user.created".into(),
        payload: format!(r#"{{"type":"user.created","data":{{"n":{id}}}}}"#),
        created_at: window_start,
        attempts,
        window_start,
        last_error: None,
        failed_at: None,
    }
}

fn dispatcher(outbox: MockWebhookOutbox, receivers: &[&Receiver]) -> Dispatcher {
    Dispatcher::new(
        Arc::new(outbox),
        receivers.iter().map(|r| r.endpoint("/hook")).collect(),
        Sender::new(std::time::Duration::from_secs(5)).unwrap(),
        Arc::new(ManualClock::new(NOW)),
    )
}

fn url(receiver: &Receiver) -> String {
    format!("http://127.0.0.1:{}/hook", receiver.port)
}

#[tokio::test]
async fn a_taken_delivery_leaves_the_outbox_with_its_message_id_sent() {
    let mut receiver = Receiver::start(Behaviour::Answer("204 No Content")).await;
    let mut outbox = MockWebhookOutbox::new();
    let claimed = vec![delivery(7, &url(&receiver), 1, NOW)];
    outbox
        .expect_claim_deliveries()
        .with(eq(NOW), eq(LEASE_SECS), eq(MOST_PER_ROUND))
        .times(1)
        .return_once(move |_, _, _| Ok(claimed));
    outbox
        .expect_delivered()
        .with(eq(7))
        .times(1)
        .returning(|_| Ok(()));
    let dispatcher = dispatcher(outbox, &[&receiver]);

    assert_eq!(dispatcher.dispatch_once().await.unwrap(), 1);

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
        delivery(1, &url(&receiver), 1, NOW),
        // Its 24 hours nearly over: the next wait would pass them.
        delivery(2, &url(&receiver), 12, NOW - 24 * 3600 + 60),
    ];
    outbox
        .expect_claim_deliveries()
        .return_once(move |_, _, _| Ok(claimed));
    outbox
        .expect_attempt_failed()
        .withf(|id, error, retry_at, now| {
            *id == 1 && error.contains("503") && *retry_at == Some(NOW + 1) && *now == NOW
        })
        .times(1)
        .returning(|_, _, _, _| Ok(()));
    outbox
        .expect_attempt_failed()
        .withf(|id, _, retry_at, _| *id == 2 && retry_at.is_none())
        .times(1)
        .returning(|_, _, _, _| Ok(()));
    let dispatcher = dispatcher(outbox, &[&receiver]);

    assert_eq!(dispatcher.dispatch_once().await.unwrap(), 2);
    let stats = dispatcher.stats();
    assert_eq!(
        (stats.delivered(), stats.attempts_failed(), stats.given_up()),
        (0, 2, 1)
    );
}

#[tokio::test]
async fn a_delivery_for_an_endpoint_no_longer_configured_is_given_up_unsent() {
    let mut receiver = Receiver::start(Behaviour::Answer("204 No Content")).await;
    let mut outbox = MockWebhookOutbox::new();
    let claimed = vec![delivery(3, "https://gone.example/hook", 1, NOW)];
    outbox
        .expect_claim_deliveries()
        .return_once(move |_, _, _| Ok(claimed));
    outbox
        .expect_attempt_failed()
        .withf(|id, error, retry_at, _| {
            *id == 3 && error.contains("no longer configured") && retry_at.is_none()
        })
        .times(1)
        .returning(|_, _, _, _| Ok(()));
    let dispatcher = dispatcher(outbox, &[&receiver]);

    dispatcher.dispatch_once().await.unwrap();

    assert!(receiver.requests.try_recv().is_err(), "nothing sent");
    assert_eq!(dispatcher.stats().given_up(), 1);
}
