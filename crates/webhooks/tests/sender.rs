//! The sender against real local HTTP receivers: what it sends, and what it counts as delivered.
#![allow(clippy::unwrap_used, missing_docs)]

use std::time::{Duration, Instant};

use wxlogin_webhooks::{SendError, Sender, sign};

mod support;
use support::{BODY, Behaviour, Receiver, SECRET_BODY, endpoint};

fn sender() -> Sender {
    Sender::new(Duration::from_secs(5)).unwrap()
}

/// The error, its Debug and every cause: what a log line could show.
fn everything_shown(error: &SendError) -> String {
    let mut shown = format!("{error} / {error:?}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        shown.push_str(&format!(" / {cause} / {cause:?}"));
        source = cause.source();
    }
    shown
}

fn assert_hides_secrets(error: &SendError) {
    let shown = everything_shown(error);
    assert!(!shown.contains(SECRET_BODY), "secret shown: {shown}");
    assert!(!shown.contains("token=sekrit"), "query shown: {shown}");
}

#[tokio::test]
async fn a_delivery_posts_the_body_with_standard_webhooks_headers_that_verify() {
    let mut receiver = Receiver::start(Behaviour::Answer("204 No Content")).await;
    let endpoint = receiver.endpoint("/hooks/in?token=sekrit");

    sender()
        .send(&endpoint, "msg_2bYw0cIc", 1_700_000_000, BODY)
        .await
        .unwrap();

    let request = receiver.only_request().await;
    assert_eq!(
        request.header("request-line"),
        Some("POST /hooks/in?token=sekrit HTTP/1.1")
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("user-agent"), Some("wxlogin-webhooks"));
    assert_eq!(request.header("webhook-id"), Some("msg_2bYw0cIc"));
    assert_eq!(request.header("webhook-timestamp"), Some("1700000000"));
    assert_eq!(request.body, BODY);
    let expected = sign(
        endpoint.secret(),
        "msg_2bYw0cIc",
        1_700_000_000,
        request.body.as_bytes(),
    );
    assert_eq!(request.header("webhook-signature"), Some(expected.as_str()));
}

#[tokio::test]
async fn any_2xx_answer_is_a_delivery() {
    let receiver = Receiver::start(Behaviour::Answer("202 Accepted")).await;

    let result = sender()
        .send(&receiver.endpoint("/"), "msg_1", 1_700_000_000, BODY)
        .await;

    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test]
async fn a_500_is_an_error_naming_the_shown_url_and_status() {
    let receiver = Receiver::start(Behaviour::Answer("500 Internal Server Error")).await;
    let endpoint = receiver.endpoint("/in?token=sekrit");

    let error = sender()
        .send(&endpoint, "msg_1", 1_700_000_000, BODY)
        .await
        .unwrap_err();

    assert!(
        matches!(error, SendError::Status { status: 500, .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!("webhook http://127.0.0.1:{} answered 500", receiver.port)
    );
    assert_hides_secrets(&error);
}

#[tokio::test]
async fn a_redirect_is_not_followed_and_is_an_error() {
    let mut receiver = Receiver::start(Behaviour::Answer("302 Found")).await;

    let error = sender()
        .send(
            &receiver.endpoint("/in?token=sekrit"),
            "msg_1",
            1_700_000_000,
            BODY,
        )
        .await
        .unwrap_err();

    assert!(
        matches!(error, SendError::Status { status: 302, .. }),
        "{error:?}"
    );
    receiver.only_request().await;
    assert_hides_secrets(&error);
}

#[tokio::test]
async fn a_receiver_that_never_answers_times_out() {
    let receiver = Receiver::start(Behaviour::Silent).await;
    let sender = Sender::new(Duration::from_millis(300)).unwrap();
    let started = Instant::now();

    let error = sender
        .send(
            &receiver.endpoint("/in?token=sekrit"),
            "msg_1",
            1_700_000_000,
            BODY,
        )
        .await
        .unwrap_err();

    assert!(matches!(error, SendError::Timeout { .. }), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_hides_secrets(&error);
}

#[tokio::test]
async fn a_receiver_streaming_an_endless_answer_is_not_waited_for() {
    let receiver = Receiver::start(Behaviour::StreamForever).await;
    let sender = Sender::new(Duration::from_secs(2)).unwrap();

    let result = sender
        .send(&receiver.endpoint("/"), "msg_1", 1_700_000_000, BODY)
        .await;

    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test]
async fn a_closed_port_is_a_connect_error() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let endpoint = endpoint(&format!("http://127.0.0.1:{port}/in?token=sekrit"));

    let error = sender()
        .send(&endpoint, "msg_1", 1_700_000_000, BODY)
        .await
        .unwrap_err();

    assert!(matches!(error, SendError::Connect { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        format!("webhook http://127.0.0.1:{port}: cannot connect")
    );
    assert_hides_secrets(&error);
}
