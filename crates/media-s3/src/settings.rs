//! Explicit settings, for tests and embedders that do not configure through `AWS_*` variables.

use std::fmt;
use std::time::Duration;

/// Everything [`S3MediaStore::new`](crate::S3MediaStore::new) needs to reach a bucket.
#[derive(Debug, Clone)]
pub struct S3Settings {
    /// The bucket.
    pub bucket: String,
    /// The folder every key starts with, without a leading or trailing `/`; empty for none.
    pub prefix: String,
    /// The store's URL, e.g. `http://127.0.0.1:9000` for MinIO; `None` for AWS itself.
    pub endpoint: Option<String>,
    /// The region requests are signed for (`us-east-1` when the store has no regions).
    pub region: String,
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: S3Secret,
    /// Whether a plain `http://` endpoint is accepted: only for a store on the same host or
    /// network (tests, a MinIO beside the server).
    pub allow_http: bool,
    /// How long requests may take.
    pub timeouts: S3Timeouts,
}

/// A secret access key. `Debug` and `Display` print only the type name, so settings can be
/// logged whole.
#[derive(Clone)]
pub struct S3Secret(String);

impl S3Secret {
    /// Wraps a secret access key.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for S3Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("S3Secret")
    }
}

impl fmt::Display for S3Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("S3Secret")
    }
}

/// The time limits of one store call. A call waits at most about `request` plus one more
/// `request` for its retries (and their back-off), never object_store's default three minutes:
/// an avatar is read and written while a user waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct S3Timeouts {
    /// To open a connection.
    pub connect: Duration,
    /// For one attempt, from sending the request to the last byte of the answer; also how
    /// long after the first attempt a failed call is still retried.
    pub request: Duration,
    /// How many times a request that failed to connect, timed out or got a 5xx is retried.
    pub retries: usize,
}

impl Default for S3Timeouts {
    /// 3 s to connect (AWS's advice for latency-sensitive reads is 3.1 s), 10 s a request
    /// (an avatar is at most a few hundred KiB), 2 retries.
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(3),
            request: Duration::from_secs(10),
            retries: 2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_print_without_their_secret() {
        let settings = S3Settings {
            bucket: "media".into(),
            prefix: String::new(),
            endpoint: None,
            region: "us-east-1".into(),
            access_key_id: "AKIAEXAMPLE".into(),
            secret_access_key: S3Secret::new("wJalrXUtnFEMIsecret"),
            allow_http: false,
            timeouts: S3Timeouts::default(),
        };
        let printed = format!("{settings:?} {}", settings.secret_access_key);
        assert!(!printed.contains("wJalrXUtnFEMIsecret"), "{printed}");
    }
}
