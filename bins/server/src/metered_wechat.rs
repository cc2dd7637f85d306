//! The WeChat client as the server uses it: every call counted and timed by API and errcode
//! (`wxlogin_wechat_calls_total`, `wxlogin_wechat_call_duration_seconds`).

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use wxlogin_domain::{
    AccessToken, ContentVerdict, OpenId, PhoneInfo, SessionKey, StableToken, WeChatApi,
    WeChatError, WeChatSession,
};

use crate::metrics::Metrics;

/// The errcode label of an outcome: WeChat's own code for the known errors, a word for
/// failures that have none, `other` for codes outside the known set (an upstream cannot add
/// series).
fn errcode_label(failure: Option<&WeChatError>) -> &'static str {
    match failure {
        None => "0",
        Some(e) => match e {
            WeChatError::InvalidCode => "40029",
            WeChatError::CodeUsed => "40163",
            WeChatError::RateLimited => "45011",
            WeChatError::RiskyUser => "40226",
            WeChatError::Busy => "-1",
            WeChatError::QuotaExhausted => "45009",
            WeChatError::BadCredentials { errcode }
            | WeChatError::AccessTokenInvalid { errcode } => match errcode {
                40013 => "40013",
                40125 => "40125",
                40001 => "40001",
                40014 => "40014",
                42001 => "42001",
                _ => "other",
            },
            WeChatError::Api { .. } => "other",
            WeChatError::InvalidResponse(_) => "invalid_response",
            WeChatError::Unreachable(_) => "unreachable",
            WeChatError::Unavailable(_) => "unavailable",
            WeChatError::Timeout => "timeout",
        },
    }
}

/// A WeChat client whose calls are counted and timed.
pub struct MeteredWeChat {
    inner: Arc<dyn WeChatApi>,
    metrics: Arc<Metrics>,
}

impl MeteredWeChat {
    /// Counts and times the calls of `inner`.
    pub fn new(inner: Arc<dyn WeChatApi>, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }

    fn record<T>(&self, api: &'static str, started: Instant, outcome: &Result<T, WeChatError>) {
        let errcode = errcode_label(outcome.as_ref().err());
        self.metrics
            .wechat_call(self.inner.appid(), api, errcode, started);
    }
}

#[async_trait]
impl WeChatApi for MeteredWeChat {
    async fn code2session(&self, code: &str) -> Result<WeChatSession, WeChatError> {
        let started = Instant::now();
        let outcome = self.inner.code2session(code).await;
        self.record("jscode2session", started, &outcome);
        outcome
    }

    async fn stable_token(&self, force_refresh: bool) -> Result<StableToken, WeChatError> {
        let started = Instant::now();
        let outcome = self.inner.stable_token(force_refresh).await;
        self.record("stable_token", started, &outcome);
        outcome
    }

    async fn phone_number(
        &self,
        access_token: &AccessToken,
        code: &str,
    ) -> Result<PhoneInfo, WeChatError> {
        let started = Instant::now();
        let outcome = self.inner.phone_number(access_token, code).await;
        self.record("getuserphonenumber", started, &outcome);
        outcome
    }

    async fn check_session(
        &self,
        access_token: &AccessToken,
        openid: &OpenId,
        session_key: &SessionKey,
    ) -> Result<bool, WeChatError> {
        let started = Instant::now();
        let outcome = self
            .inner
            .check_session(access_token, openid, session_key)
            .await;
        self.record("checksession", started, &outcome);
        outcome
    }

    async fn msg_sec_check(
        &self,
        access_token: &AccessToken,
        openid: &OpenId,
        content: &str,
    ) -> Result<ContentVerdict, WeChatError> {
        let started = Instant::now();
        let outcome = self
            .inner
            .msg_sec_check(access_token, openid, content)
            .await;
        self.record("msg_sec_check", started, &outcome);
        outcome
    }

    async fn media_check_async(
        &self,
        access_token: &AccessToken,
        openid: &OpenId,
        media_url: &str,
    ) -> Result<String, WeChatError> {
        let started = Instant::now();
        let outcome = self
            .inner
            .media_check_async(access_token, openid, media_url)
            .await;
        self.record("media_check_async", started, &outcome);
        outcome
    }

    fn appid(&self) -> &str {
        self.inner.appid()
    }
}
