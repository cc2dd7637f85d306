//! The HTTP GETs of the verifier: bounded in size and time, whatever the server does.

use std::time::Duration;

use reqwest::header::{CACHE_CONTROL, CONTENT_LENGTH};
use reqwest::{Client, Url};

use crate::error::{ConfigError, FetchError};

/// One answer, read whole (up to the limit).
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
    /// `Cache-Control: max-age`, when given (`no-store`/`no-cache` count as 0).
    pub(crate) max_age: Option<Duration>,
}

/// A reqwest client shared by the JWKS cache and the revocation follower.
#[derive(Clone)]
pub(crate) struct HttpGetter {
    client: Client,
}

impl HttpGetter {
    pub(crate) fn new(connect_timeout: Duration) -> Result<Self, ConfigError> {
        let client = Client::builder()
            .connect_timeout(connect_timeout)
            // Keys and revocations come from the configured URL only: a redirect elsewhere
            // would let whoever controls that place choose the keys.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("wxlogin-verifier/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(ConfigError::HttpClient)?;
        Ok(Self { client })
    }

    /// GETs `url`, giving up after `timeout` (the whole exchange, body included) and refusing a
    /// body over `limit` bytes without reading it all.
    pub(crate) async fn get(
        &self,
        url: Url,
        timeout: Duration,
        limit: usize,
    ) -> Result<Answer, FetchError> {
        let mut response = self
            .client
            .get(url)
            .timeout(timeout)
            .send()
            .await
            .map_err(FetchError::Http)?;
        let declared = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > limit as u64) {
            return Err(FetchError::TooLarge { limit });
        }
        let status = response.status().as_u16();
        let max_age = response
            .headers()
            .get(CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(max_age);
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(FetchError::Http)? {
            if body.len() + chunk.len() > limit {
                return Err(FetchError::TooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Answer {
            status,
            body,
            max_age,
        })
    }
}

fn max_age(cache_control: &str) -> Option<Duration> {
    let mut found = None;
    for directive in cache_control.split(',').map(str::trim) {
        let directive = directive.to_ascii_lowercase();
        if directive == "no-store" || directive == "no-cache" {
            return Some(Duration::ZERO);
        }
        if let Some(secs) = directive.strip_prefix("max-age=") {
            found = secs.trim_matches('"').parse().ok().map(Duration::from_secs);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_read_from_cache_control() {
        assert_eq!(
            max_age("public, max-age=600"),
            Some(Duration::from_secs(600))
        );
        assert_eq!(max_age("Max-Age=5"), Some(Duration::from_secs(5)));
        assert_eq!(max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(max_age("public"), None);
        assert_eq!(max_age("max-age=soon"), None);
    }
}
