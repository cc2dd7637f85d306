//! Where the files go: the bucket and the folder inside it, read from `s3://bucket/prefix`.

use wxlogin_domain::is_media_name;

use crate::S3ConfigError;

/// A bucket and the prefix every key starts with (empty for none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct S3Location {
    pub(crate) bucket: String,
    pub(crate) prefix: String,
}

impl S3Location {
    /// Reads `s3://bucket` or `s3://bucket/prefix` (a trailing `/` is ignored).
    ///
    /// Errors never repeat the URL or a part of it: a URL written as `s3://KEY:SECRET@bucket`
    /// would otherwise put the secret in a log line.
    pub(crate) fn parse(url: &str) -> Result<Self, S3ConfigError> {
        let rest = url.strip_prefix("s3://").ok_or(S3ConfigError::NotAnS3Url)?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        Self::new(bucket, prefix)
    }

    /// Checks a bucket and a prefix given apart.
    pub(crate) fn new(bucket: &str, prefix: &str) -> Result<Self, S3ConfigError> {
        if !is_bucket_name(bucket) {
            return Err(S3ConfigError::InvalidBucket);
        }
        let prefix = prefix.trim_end_matches('/');
        // The prefix obeys the rule the names obey, so `<prefix>/<name>` is always a key that
        // stays inside the prefix.
        if !prefix.is_empty() && !is_media_name(prefix) {
            return Err(S3ConfigError::InvalidPrefix);
        }
        Ok(Self {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        })
    }

    /// The object key of a file name (already checked with `is_media_name`).
    pub(crate) fn key(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{}/{name}", self.prefix)
        }
    }
}

/// S3's rule (3 to 63 lower-case letters, digits, `.` and `-`), widened to the upper case and
/// `_` that older buckets and some S3-compatible stores allow; `@`, `:` and `/` stay out.
fn is_bucket_name(bucket: &str) -> bool {
    (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_names_a_bucket_and_an_optional_prefix() {
        let bare = S3Location::parse("s3://avatars-bucket").expect("bare bucket");
        assert_eq!(
            (bare.bucket.as_str(), bare.prefix.as_str()),
            ("avatars-bucket", "")
        );
        assert_eq!(bare.key("avatars/a.jpg"), "avatars/a.jpg");

        let nested = S3Location::parse("s3://media/prod/wxlogin/").expect("prefix");
        assert_eq!(
            (nested.bucket.as_str(), nested.prefix.as_str()),
            ("media", "prod/wxlogin")
        );
        assert_eq!(nested.key("avatars/a.jpg"), "prod/wxlogin/avatars/a.jpg");
    }

    #[test]
    fn a_malformed_url_is_refused() {
        for (url, expected) in [
            ("https://media/prefix", S3ConfigError::NotAnS3Url),
            ("media/prefix", S3ConfigError::NotAnS3Url),
            ("s3://", S3ConfigError::InvalidBucket),
            ("s3:///prefix", S3ConfigError::InvalidBucket),
            ("s3://ab", S3ConfigError::InvalidBucket),
            ("s3://media?x=1", S3ConfigError::InvalidBucket),
            ("s3://media/../other", S3ConfigError::InvalidPrefix),
            ("s3://media//double", S3ConfigError::InvalidPrefix),
            ("s3://media/with space", S3ConfigError::InvalidPrefix),
        ] {
            let error = S3Location::parse(url).expect_err(url);
            assert_eq!(
                std::mem::discriminant(&error),
                std::mem::discriminant(&expected),
                "{url}: {error}"
            );
        }
    }

    #[test]
    fn credentials_written_into_the_url_never_reach_the_error() {
        let error = S3Location::parse("s3://AKIAEXAMPLE:wJalrXUtnFEMIsecret@media/prefix")
            .expect_err("userinfo is no bucket");
        let text = format!("{error} {error:?}");
        assert!(!text.contains("wJalrXUtnFEMIsecret"), "{text}");
        assert!(!text.contains("AKIAEXAMPLE"), "{text}");
    }
}
