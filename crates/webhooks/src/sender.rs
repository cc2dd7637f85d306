//! Delivering one signed webhook over HTTP.

use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use reqwest::redirect::Policy;

use crate::config::Endpoint;
use crate::signing::sign;

/// Posts signed deliveries to endpoints. One `Sender` (one connection pool) serves every
/// endpoint; clone it freely.
#[derive(Clone, Debug)]
pub struct Sender {
    client: reqwest::Client,
}

/// The HTTP client could not be built (its TLS setup failed).
#[derive(Debug, thiserror::Error)]
#[error("cannot build the webhook HTTP client")]
pub struct BuildError(#[source] reqwest::Error);

/// A delivery that did not get a 2xx answer. Names the endpoint by its
/// [`Endpoint::shown_url`], never by its full URL (whose query may hold a token), and never
/// carries the secret.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The receiver answered with a status outside 2xx (redirects included: they are not
    /// followed, since a redirect would send the signed body somewhere not configured).
    #[error("webhook {url} answered {status}")]
    Status {
        /// The endpoint's shown URL.
        url: String,
        /// The status it answered.
        status: u16,
    },
    /// No answer came within the sender's timeout.
    #[error("webhook {url} did not answer in time")]
    Timeout {
        /// The endpoint's shown URL.
        url: String,
        /// The client's error, stripped of the URL.
        #[source]
        source: reqwest::Error,
    },
    /// The connection could not be made (refused, unreachable, DNS, TLS).
    #[error("webhook {url}: cannot connect")]
    Connect {
        /// The endpoint's shown URL.
        url: String,
        /// The client's error, stripped of the URL.
        #[source]
        source: reqwest::Error,
    },
    /// Any other failure of the request (the connection dropped mid-answer, a header value the
    /// client refused...).
    #[error("webhook {url}: request failed")]
    Request {
        /// The endpoint's shown URL.
        url: String,
        /// The client's error, stripped of the URL.
        #[source]
        source: reqwest::Error,
    },
}

impl Sender {
    /// A sender whose every request (connect, send, answer's head) must finish within `timeout`.
    pub fn new(timeout: Duration) -> Result<Self, BuildError> {
        let client = reqwest::Client::builder()
            .redirect(Policy::none())
            .timeout(timeout)
            .user_agent("wxlogin-webhooks")
            .build()
            .map_err(BuildError)?;
        Ok(Self { client })
    }

    /// POSTs `body` (JSON) to `endpoint` with the Standard Webhooks headers `webhook-id`
    /// (`msg_id`), `webhook-timestamp` (`timestamp`, Unix seconds) and `webhook-signature`.
    /// Any 2xx answer is a delivery; anything else is an error, to be retried by the caller.
    pub async fn send(
        &self,
        endpoint: &Endpoint,
        msg_id: &str,
        timestamp: i64,
        body: &str,
    ) -> Result<(), SendError> {
        let signature = sign(endpoint.secret(), msg_id, timestamp, body.as_bytes());
        let answer = self
            .client
            .post(endpoint.url().clone())
            .header(CONTENT_TYPE, "application/json")
            .header("webhook-id", msg_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body.to_owned())
            .send()
            .await
            .map_err(|error| classify(endpoint, error))?;
        let status = answer.status();
        // The answer's body is never read: it tells us nothing the status does not, and a
        // receiver could stream it forever. Dropping it closes the connection.
        drop(answer);
        if status.is_success() {
            Ok(())
        } else {
            Err(SendError::Status {
                url: endpoint.shown_url(),
                status: status.as_u16(),
            })
        }
    }
}

// reqwest's errors print the full URL, query included: strip it before keeping the error.
fn classify(endpoint: &Endpoint, error: reqwest::Error) -> SendError {
    let url = endpoint.shown_url();
    let source = error.without_url();
    if source.is_timeout() {
        SendError::Timeout { url, source }
    } else if source.is_connect() {
        SendError::Connect { url, source }
    } else {
        SendError::Request { url, source }
    }
}
