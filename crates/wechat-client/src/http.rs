//! The real client: awc, behind a handle that is `Send + Sync`.
//!
//! awc's client is bound to the thread that made it (it holds `Rc`s), so its futures cannot
//! cross threads. A request made on an actix thread (a server worker) runs there, on that
//! thread's own awc client, as a local task whose handle is `Send`: no thread hop. A request
//! made anywhere else (a multi-threaded tokio runtime) is handed to `transport_threads`
//! threads of the client's own, each with a single-threaded actix runtime, over channels.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use async_trait::async_trait;
use awc::error::SendRequestError;
use tokio::sync::{mpsc, oneshot};
use wxlogin_domain::{
    AccessToken, Cause, ContentVerdict, OpenId, PhoneInfo, SessionKey, StableToken, WeChatApi,
    WeChatError, WeChatSession,
};

use wxlogin_wechat_protocol::{
    WeChatConfig, check_session_url, code2session_url, media_check_async_request,
    msg_sec_check_request, parse_check_session, parse_code2session, parse_media_check_async,
    parse_msg_sec_check, parse_phone_number, parse_stable_token, phone_number_request,
    stable_token_request,
};

/// The largest reply read from WeChat; its replies are a few hundred bytes.
const MAX_REPLY_BYTES: usize = 64 * 1024;

/// The real WeChat client. `Send + Sync`: share one (in an `Arc`) across every thread.
///
/// Dropping it stops its transport threads; requests still in flight then fail.
pub struct HttpWeChatClient {
    config: WeChatConfig,
    /// Names this client's awc client in each actix thread's [`LOCAL_CLIENTS`].
    id: u64,
    /// Started on the first request made off an actix thread.
    transport: OnceLock<std::io::Result<Transport>>,
}

impl std::fmt::Debug for HttpWeChatClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpWeChatClient")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Every client gets its own id, so one thread can hold the awc clients of several.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// On actix threads: each `HttpWeChatClient`'s awc client for this thread.
    static LOCAL_CLIENTS: RefCell<HashMap<u64, Rc<awc::Client>>> = RefCell::default();
}

impl HttpWeChatClient {
    /// A client for `config`. It cannot fail: it starts no thread until a request is made off
    /// an actix thread, and transport threads that cannot be started then fail that request
    /// with [`WeChatError::Unreachable`] (retried like any call that could not be sent).
    pub fn new(config: WeChatConfig) -> Self {
        // awc's rustls connector needs a process-wide crypto provider, or it panics on the
        // first https call. Installing fails harmlessly when one is already installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Self {
            config,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            transport: OnceLock::new(),
        }
    }

    /// Sends one request and reads the whole reply: on this thread when it is an actix one,
    /// else on a transport thread.
    async fn send(&self, url: &str, json_body: Option<&str>) -> Result<Vec<u8>, WeChatError> {
        let (url, json_body) = (url.to_owned(), json_body.map(str::to_owned));
        if actix_rt::Arbiter::try_current().is_some() {
            let client = LOCAL_CLIENTS.with(|clients| {
                Rc::clone(
                    clients
                        .borrow_mut()
                        .entry(self.id)
                        .or_insert_with(|| Rc::new(awc_client(&self.config))),
                )
            });
            return actix_rt::spawn(async move { exchange(&client, &url, json_body).await })
                .await
                .unwrap_or_else(|_| {
                    Err(WeChatError::Unavailable(Cause::msg(
                        "the WeChat request task stopped before answering",
                    )))
                });
        }
        match self
            .transport
            .get_or_init(|| Transport::start(&self.config))
        {
            Ok(transport) => transport.send(url, json_body).await,
            Err(e) => Err(WeChatError::Unreachable(Cause::msg(format!(
                "the WeChat transport threads could not start: {e}"
            )))),
        }
    }

    /// Runs `call` again after retryable failures, waiting `backoff`, then twice that, ...
    async fn with_retries<T, F, Fut>(&self, what: &str, mut call: F) -> Result<T, WeChatError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, WeChatError>>,
    {
        let mut wait = self.config.backoff;
        let mut attempt = 0;
        loop {
            match call().await {
                Err(e) if e.is_retryable() && attempt < self.config.retries => {
                    attempt += 1;
                    log::warn!(
                        "WeChat {what} failed ({}); retry {attempt} of {} in {wait:?}",
                        wxlogin_domain::error_chain(&e),
                        self.config.retries
                    );
                    tokio::time::sleep(wait).await;
                    wait = wait.saturating_mul(2);
                }
                other => return other,
            }
        }
    }
}

#[async_trait]
impl WeChatApi for HttpWeChatClient {
    async fn code2session(&self, code: &str) -> Result<WeChatSession, WeChatError> {
        let url = code2session_url(&self.config, code);
        self.with_retries("code2session", || async {
            parse_code2session(&self.send(&url, None).await?)
        })
        .await
    }

    async fn stable_token(&self, force_refresh: bool) -> Result<StableToken, WeChatError> {
        let (url, body) = stable_token_request(&self.config, force_refresh);
        self.with_retries("stable_token", || async {
            parse_stable_token(&self.send(&url, Some(&body)).await?)
        })
        .await
    }

    async fn phone_number(
        &self,
        access_token: &AccessToken,
        code: &str,
    ) -> Result<PhoneInfo, WeChatError> {
        let (url, body) = phone_number_request(&self.config, access_token, code);
        self.with_retries("getuserphonenumber", || async {
            parse_phone_number(&self.send(&url, Some(&body)).await?)
        })
        .await
    }

    async fn check_session(
        &self,
        access_token: &AccessToken,
        openid: &OpenId,
        session_key: &SessionKey,
    ) -> Result<bool, WeChatError> {
        let url = check_session_url(&self.config, access_token, openid, session_key);
        self.with_retries("checksession", || async {
            parse_check_session(&self.send(&url, None).await?)
        })
        .await
    }

    async fn msg_sec_check(
        &self,
        access_token: &AccessToken,
        openid: &OpenId,
        content: &str,
    ) -> Result<ContentVerdict, WeChatError> {
        let (url, body) = msg_sec_check_request(&self.config, access_token, openid, content);
        self.with_retries("msg_sec_check", || async {
            parse_msg_sec_check(&self.send(&url, Some(&body)).await?)
        })
        .await
    }

    // Retried like every call: only when WeChat cannot have started a check (busy, or never
    // reached). After a timeout it may have, and a second check would spend quota and push twice.
    async fn media_check_async(
        &self,
        access_token: &AccessToken,
        openid: &OpenId,
        media_url: &str,
    ) -> Result<String, WeChatError> {
        let (url, body) = media_check_async_request(&self.config, access_token, openid, media_url);
        self.with_retries("media_check_async", || async {
            parse_media_check_async(&self.send(&url, Some(&body)).await?)
        })
        .await
    }

    fn appid(&self) -> &str {
        &self.config.appid
    }
}

/// One request for a transport thread: a GET, or a POST of a JSON body. URL and body hold
/// secrets (the app secret, the access token): they are never logged.
struct Job {
    url: String,
    json_body: Option<String>,
    reply: oneshot::Sender<Result<Vec<u8>, WeChatError>>,
}

/// The transport threads, taken in turn.
struct Transport {
    lanes: Vec<mpsc::UnboundedSender<Job>>,
    next: AtomicUsize,
}

impl Transport {
    fn start(config: &WeChatConfig) -> std::io::Result<Self> {
        let lanes = (0..config.transport_threads.max(1))
            .map(|i| {
                let (jobs, queue) = mpsc::unbounded_channel();
                let config = config.clone();
                std::thread::Builder::new()
                    .name(format!("wxlogin-wechat-{i}"))
                    .spawn(move || serve(queue, &config))?;
                Ok(jobs)
            })
            .collect::<std::io::Result<_>>()?;
        Ok(Self {
            lanes,
            next: AtomicUsize::new(0),
        })
    }

    /// Hands one request to a transport thread and waits for its answer.
    async fn send(&self, url: String, json_body: Option<String>) -> Result<Vec<u8>, WeChatError> {
        let (reply, answer) = oneshot::channel();
        let lane = &self.lanes[self.next.fetch_add(1, Ordering::Relaxed) % self.lanes.len()];
        lane.send(Job {
            url,
            json_body,
            reply,
        })
        // Not handed over: nothing was sent.
        .map_err(|_| {
            WeChatError::Unreachable(Cause::msg("the WeChat transport thread has stopped"))
        })?;
        // Handed over but no answer: it may have been sent.
        answer.await.unwrap_or_else(|_| {
            Err(WeChatError::Unavailable(Cause::msg(
                "the WeChat transport thread stopped during the request",
            )))
        })
    }
}

/// A transport thread: an actix runtime running each request it is handed, concurrently,
/// until every handle is dropped.
fn serve(mut queue: mpsc::UnboundedReceiver<Job>, config: &WeChatConfig) {
    actix_rt::System::new().block_on(async move {
        let client = Rc::new(awc_client(config));
        while let Some(job) = queue.recv().await {
            let client = Rc::clone(&client);
            actix_rt::spawn(async move {
                let result = exchange(&client, &job.url, job.json_body).await;
                // The caller may have given up (its future dropped): nobody to tell.
                let _ = job.reply.send(result);
            });
        }
    });
}

fn awc_client(config: &WeChatConfig) -> awc::Client {
    awc::Client::builder()
        .timeout(config.timeout)
        .connector(awc::Connector::new().timeout(config.connect_timeout))
        .finish()
}

async fn exchange(
    client: &awc::Client,
    url: &str,
    json_body: Option<String>,
) -> Result<Vec<u8>, WeChatError> {
    let sent = match json_body {
        None => client.get(url).send().await,
        Some(body) => {
            client
                .post(url)
                .insert_header(("content-type", "application/json"))
                .send_body(body)
                .await
        }
    };
    let mut reply = sent.map_err(classify)?;
    // WeChat answers 200 to everything it handles. A 5xx, a 408 (a server or proxy that gave up
    // waiting for our request, as actix-web does after 5 s when it was stalled) or a 429 is
    // trouble on the way there: for the caller, WeChat is unavailable, not misbehaving.
    let status = reply.status();
    if status.is_server_error()
        || status == awc::http::StatusCode::REQUEST_TIMEOUT
        || status == awc::http::StatusCode::TOO_MANY_REQUESTS
    {
        return Err(WeChatError::Unavailable(Cause::msg(format!(
            "HTTP {status}"
        ))));
    }
    let body = reply
        .body()
        .limit(MAX_REPLY_BYTES)
        .await
        .map_err(|e| WeChatError::Unavailable(Cause::msg(format!("reading the reply: {e}"))))?;
    Ok(body.to_vec())
}

/// Only a connection that could not be made is sure not to have reached WeChat. awc also
/// reports a connection closed after the request was written, before any answer, as a
/// connect error (`Disconnected`): that request may have been acted on, so it is not one.
/// awc's errors are not all `Send`, so their text is kept (it names no URL, hence no secret).
fn classify(e: SendRequestError) -> WeChatError {
    use awc::error::ConnectError as C;
    match e {
        SendRequestError::Timeout => WeChatError::Timeout,
        SendRequestError::Connect(
            e @ (C::Resolver(_)
            | C::NoRecords
            | C::Timeout
            | C::Unresolved
            | C::Io(_)
            | C::SslIsNotSupported),
        ) => WeChatError::Unreachable(Cause::msg(format!("connecting: {e}"))),
        other => WeChatError::Unavailable(Cause::msg(format!("sending: {other}"))),
    }
}
