use std::time::Duration;

use wxlogin_domain::AppSecret;

/// Where the real WeChat API lives.
pub const DEFAULT_API_BASE: &str = "https://api.weixin.qq.com";

/// How to reach WeChat, and as which mini program.
#[derive(Debug, Clone)]
pub struct WeChatConfig {
    /// The mini program's appid.
    pub appid: String,
    /// The mini program's app secret.
    pub secret: AppSecret,
    /// Base URL of the API, without a trailing slash (a fake's, in tests and dev mode).
    pub api_base: String,
    /// Longest wait for a whole answer, connection included.
    pub timeout: Duration,
    /// Longest wait for a connection.
    pub connect_timeout: Duration,
    /// How many times a call is tried again after *system busy* or a failed connection.
    pub retries: u32,
    /// The wait before the first retry; each further retry waits twice as long.
    pub backoff: Duration,
    /// How many threads run the HTTP client (awc's client is bound to its thread, so the
    /// client runs it on threads of its own and hands them requests).
    pub transport_threads: usize,
}

impl WeChatConfig {
    /// The real API with the default timeouts (5 s, 2 s to connect), 2 retries from 100 ms,
    /// and 2 transport threads.
    pub fn new(appid: impl Into<String>, secret: AppSecret) -> Self {
        Self {
            appid: appid.into(),
            secret,
            api_base: DEFAULT_API_BASE.into(),
            timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(2),
            retries: 2,
            backoff: Duration::from_millis(100),
            transport_threads: 2,
        }
    }

    /// The same, against another base URL.
    pub fn with_api_base(mut self, api_base: impl Into<String>) -> Self {
        self.api_base = api_base.into().trim_end_matches('/').to_owned();
        self
    }
}
