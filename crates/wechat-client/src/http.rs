use awc::error::SendRequestError;

use crate::{
    WeChatApi, WeChatConfig, WeChatError, WeChatSession, code2session_url, parse_code2session,
};

/// The largest reply read from WeChat; its replies are a few hundred bytes.
const MAX_REPLY_BYTES: usize = 64 * 1024;

/// The real WeChat client, on `awc`.
///
/// `awc` clients are bound to the thread that made them (not `Send`): make one per actix worker.
pub struct HttpWeChatClient {
    config: WeChatConfig,
    client: awc::Client,
}

impl std::fmt::Debug for HttpWeChatClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpWeChatClient")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl HttpWeChatClient {
    /// A client for `config`.
    pub fn new(config: WeChatConfig) -> Self {
        // awc's rustls connector needs a process-wide crypto provider, or it panics on the
        // first https call. Installing fails harmlessly when one is already installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = awc::Client::builder()
            .timeout(config.timeout)
            .connector(awc::Connector::new().timeout(config.connect_timeout))
            .finish();
        Self { config, client }
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &WeChatConfig {
        &self.config
    }

    /// One GET, read whole. The URL holds the app secret: it is never logged.
    async fn get(&self, url: &str) -> Result<Vec<u8>, WeChatError> {
        let mut reply = self.client.get(url).send().await.map_err(|e| match e {
            SendRequestError::Timeout => WeChatError::Timeout,
            other => WeChatError::Unavailable(other.to_string()),
        })?;
        if reply.status().is_server_error() {
            return Err(WeChatError::Unavailable(format!("HTTP {}", reply.status())));
        }
        let body = reply
            .body()
            .limit(MAX_REPLY_BYTES)
            .await
            .map_err(|e| WeChatError::Unavailable(format!("reading the reply: {e}")))?;
        Ok(body.to_vec())
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
                        "WeChat {what} failed ({e}); retry {attempt} of {} in {wait:?}",
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

impl WeChatApi for HttpWeChatClient {
    async fn code2session(&self, code: &str) -> Result<WeChatSession, WeChatError> {
        let url = code2session_url(&self.config, code);
        self.with_retries("code2session", || async {
            parse_code2session(&self.get(&url).await?)
        })
        .await
    }
}
