//! Why a media store could not be set up.

/// A media store URL or setting that cannot be used. No message holds the URL, a key or
/// a secret: the URL may carry credentials someone wrote into it.
#[derive(Debug, thiserror::Error)]
pub enum S3ConfigError {
    /// The URL does not start with `s3://`.
    #[error("the media store URL must look like s3://bucket or s3://bucket/prefix")]
    NotAnS3Url,
    /// The bucket is not a bucket name (3 to 63 letters, digits, `.`, `-`, `_`).
    #[error(
        "the media store URL's bucket is not a bucket name (3 to 63 letters, digits, '.', '-', '_')"
    )]
    InvalidBucket,
    /// The prefix has a character or a segment a key cannot have (`..`, `//`, a space...).
    #[error(
        "the media store URL's prefix may hold only letters, digits, '.', '-', '_' and single '/'s, and no '.' or '..' segment"
    )]
    InvalidPrefix,
    /// The S3 client refused the settings (a missing secret key, an AWS_* value it cannot read).
    #[error("the S3 client could not be set up from these settings")]
    Client(#[source] object_store::Error),
}
