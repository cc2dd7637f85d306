//! [`S3MediaStore`]: the media port on an S3 bucket.

use std::fmt;

use futures_util::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path;
use object_store::{
    Attribute, AttributeValue, Attributes, ClientConfigKey, GetOptions, ObjectStore,
    ObjectStoreExt, PutOptions, PutPayload, RetryConfig,
};
use wxlogin_domain::async_trait;
use wxlogin_domain::{Cause, MediaError, MediaObject, MediaStore, is_media_name};

use crate::classify::classify;
use crate::content_type::served_type;
use crate::location::S3Location;
use crate::{S3ConfigError, S3Settings, S3Timeouts};

/// The largest file [`S3MediaStore`] writes or reads. Avatars are a few hundred KiB: anything
/// larger was not written by wxlogin, and is refused before its body is read.
pub const MAX_OBJECT_BYTES: u64 = 16 * 1024 * 1024;

/// What every object is served with, by the store or by a CDN in front of it: a name never
/// names two contents, so a copy can be kept for ever.
pub const CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

/// The media store on an S3-compatible bucket (AWS S3, MinIO, Ceph, Tencent COS, Alibaba
/// OSS, Cloudflare R2...). A file `avatars/x.jpg` is the object `<prefix>/avatars/x.jpg`,
/// with its content type and [`CACHE_CONTROL`].
///
/// Cheap to share: one client (and its connection pool) serves every call.
pub struct S3MediaStore {
    s3: AmazonS3,
    location: S3Location,
}

impl S3MediaStore {
    /// The store at `url` (`s3://bucket` or `s3://bucket/prefix`), with credentials, region,
    /// endpoint and client options from the `AWS_*` variables of the environment, read as
    /// object_store's `AmazonS3Builder::from_env` reads them: `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_ENDPOINT_URL`,
    /// `AWS_ALLOW_HTTP`, `AWS_VIRTUAL_HOSTED_STYLE_REQUEST`, `AWS_CONNECT_TIMEOUT`,
    /// `AWS_TIMEOUT`... Unset timeouts are [`S3Timeouts::default`]'s.
    ///
    /// Nothing is sent yet: a wrong key or an unreachable endpoint shows on the first call.
    pub fn from_url(url: &str) -> Result<Self, S3ConfigError> {
        Self::from_url_and_vars(url, std::env::vars_os())
    }

    /// [`Self::from_url`] with the variables given rather than read from the environment
    /// (tests cannot change the environment of a process running other tests). Names not
    /// starting with `AWS_`, names object_store does not know and values that are not UTF-8
    /// are ignored, as `AmazonS3Builder::from_env` ignores them.
    pub fn from_url_and_vars<K, V>(
        url: &str,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, S3ConfigError>
    where
        K: AsRef<std::ffi::OsStr>,
        V: AsRef<std::ffi::OsStr>,
    {
        let location = S3Location::parse(url)?;
        let timeouts = S3Timeouts::default();
        // Our timeouts first, so that AWS_TIMEOUT and AWS_CONNECT_TIMEOUT override them.
        let mut builder = with_timeouts(AmazonS3Builder::new(), timeouts);
        for (key, value) in vars {
            let (Some(key), Some(value)) = (key.as_ref().to_str(), value.as_ref().to_str()) else {
                continue;
            };
            if !key.starts_with("AWS_") {
                continue;
            }
            if let Ok(config_key) = key.to_ascii_lowercase().parse::<AmazonS3ConfigKey>() {
                builder = builder.with_config(config_key, value);
            }
        }
        Self::build(builder, location, timeouts)
    }

    /// The store the settings describe, without reading the environment.
    pub fn new(settings: S3Settings) -> Result<Self, S3ConfigError> {
        let location = S3Location::new(&settings.bucket, &settings.prefix)?;
        let mut builder = with_timeouts(AmazonS3Builder::new(), settings.timeouts)
            .with_region(settings.region)
            .with_access_key_id(settings.access_key_id)
            .with_secret_access_key(settings.secret_access_key.expose())
            .with_allow_http(settings.allow_http);
        if let Some(endpoint) = settings.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        Self::build(builder, location, settings.timeouts)
    }

    fn build(
        builder: AmazonS3Builder,
        location: S3Location,
        timeouts: S3Timeouts,
    ) -> Result<Self, S3ConfigError> {
        // object_store's reqwest has rustls without a crypto provider of its own (the
        // workspace builds rustls with ring only, see the root Cargo.toml), and building its
        // client panics when the process has none. Installing fails harmlessly when one is
        // already installed, as wxlogin-wechat-client does.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let s3 = builder
            .with_bucket_name(location.bucket.clone())
            .with_retry(RetryConfig {
                max_retries: timeouts.retries,
                retry_timeout: timeouts.request,
                ..RetryConfig::default()
            })
            .build()
            .map_err(S3ConfigError::Client)?;
        Ok(Self { s3, location })
    }

    /// The object a file name is kept as.
    fn path(&self, name: &str) -> Result<Path, MediaError> {
        if !is_media_name(name) {
            return Err(MediaError::InvalidName);
        }
        // A media name is always a valid path (no empty, `.` or `..` segment, no character
        // object_store would escape); refusing it anyway costs nothing.
        Path::parse(self.location.key(name)).map_err(|_| MediaError::InvalidName)
    }
}

/// Applies the connect and request time limits to a builder.
fn with_timeouts(builder: AmazonS3Builder, timeouts: S3Timeouts) -> AmazonS3Builder {
    builder
        .with_config(
            AmazonS3ConfigKey::Client(ClientConfigKey::ConnectTimeout),
            format!("{}ms", timeouts.connect.as_millis()),
        )
        .with_config(
            AmazonS3ConfigKey::Client(ClientConfigKey::Timeout),
            format!("{}ms", timeouts.request.as_millis()),
        )
}

impl fmt::Debug for S3MediaStore {
    // AmazonS3's own Debug would print its whole configuration, credentials included.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3MediaStore")
            .field("bucket", &self.location.bucket)
            .field("prefix", &self.location.prefix)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl MediaStore for S3MediaStore {
    async fn put(&self, object: &MediaObject) -> Result<(), MediaError> {
        let path = self.path(&object.name)?;
        if object.bytes.len() as u64 > MAX_OBJECT_BYTES {
            return Err(too_large(object.bytes.len() as u64));
        }
        let mut attributes = Attributes::new();
        attributes.insert(
            Attribute::ContentType,
            AttributeValue::from(object.content_type.clone()),
        );
        attributes.insert(Attribute::CacheControl, AttributeValue::from(CACHE_CONTROL));
        let options = PutOptions {
            attributes,
            ..PutOptions::default()
        };
        self.s3
            .put_opts(&path, PutPayload::from(object.bytes.clone()), options)
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn get(&self, name: &str) -> Result<Option<MediaObject>, MediaError> {
        let path = self.path(name)?;
        let result = match self.s3.get_opts(&path, GetOptions::default()).await {
            Ok(result) => result,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(error) => return Err(classify(error)),
        };
        // The size comes with the headers: a file too large is refused before its body is
        // read, and the stream, dropped, closes the connection.
        let size = result.meta.size;
        if size > MAX_OBJECT_BYTES {
            return Err(too_large(size));
        }
        let stored_type = result
            .attributes
            .get(&Attribute::ContentType)
            .map(|value| value.as_ref().to_owned());
        let content_type = served_type(stored_type.as_deref(), name);
        if stored_type.as_deref() != Some(content_type.as_str()) {
            log::debug!(
                "media object {name} has no usable content type; serving it as {content_type}"
            );
        }
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        let mut body = result.into_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(classify)?;
            // Should the body be longer than its Content-Length said, still stop at the limit.
            if (bytes.len() + chunk.len()) as u64 > MAX_OBJECT_BYTES {
                return Err(too_large((bytes.len() + chunk.len()) as u64));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Some(MediaObject {
            name: name.to_owned(),
            content_type,
            bytes,
        }))
    }

    async fn delete(&self, name: &str) -> Result<(), MediaError> {
        let path = self.path(name)?;
        match self.s3.delete(&path).await {
            // S3 answers 204 for a missing key too; other stores may say 404.
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(classify(error)),
        }
    }
}

fn too_large(size: u64) -> MediaError {
    MediaError::Failed(Cause::msg(format!(
        "the media object is {size} bytes, more than the {MAX_OBJECT_BYTES} a media object may have"
    )))
}
