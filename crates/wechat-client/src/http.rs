use awc::error::SendRequestError;

use crate::{
    AccessToken, OpenId, PhoneInfo, SessionKey, StableToken, WeChatApi, WeChatConfig, WeChatError,
    WeChatSession, check_session_url, code2session_url, parse_check_session, parse_code2session,
    parse_phone_number, parse_stable_token, phone_number_request, stable_token_request,
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

    /// One GET, read whole. The URL holds secrets: it is never logged.
    async fn get(&self, url: &str) -> Result<Vec<u8>, WeChatError> {
        let reply = self.client.get(url).send().await;
        Self::read(reply).await
    }

    /// One POST of a JSON body, read whole. URL and body hold secrets: they are never logged.
    async fn post_json(&self, url: &str, body: &str) -> Result<Vec<u8>, WeChatError> {
        let reply = self
            .client
            .post(url)
            .insert_header(("content-type", "application/json"))
            .send_body(body.to_owned())
            .await;
        Self::read(reply).await
    }

    async fn read(
        reply: Result<awc::ClientResponse, SendRequestError>,
    ) -> Result<Vec<u8>, WeChatError> {
        let mut reply = reply.map_err(|e| match e {
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

    async fn stable_token(&self, force_refresh: bool) -> Result<StableToken, WeChatError> {
        let (url, body) = stable_token_request(&self.config, force_refresh);
        self.with_retries("stable_token", || async {
            parse_stable_token(&self.post_json(&url, &body).await?)
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
            parse_phone_number(&self.post_json(&url, &body).await?)
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
            parse_check_session(&self.get(&url).await?)
        })
        .await
    }

    fn appid(&self) -> &str {
        &self.config.appid
    }
}
