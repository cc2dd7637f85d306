//! Avatars and content security: `MEDIA_STORE`, `MEDIA_PUBLIC_BASE_URL`, `PUBLIC_BASE_URL`,
//! `AVATAR_MAX_BYTES`, `AVATAR_SIZE`, `AVATAR_UPLOAD_CONCURRENCY`, `CONTENT_CHECK`,
//! `CONTENT_CHECK_FAIL`.

use std::net::SocketAddr;

use wxlogin_core::{AvatarLimits, ContentCheckSettings};

use super::vars::Vars;

/// Where avatar files are kept (`MEDIA_STORE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaStoreConfig {
    /// The database itself (unset, or `database`): nothing more to run.
    Database,
    /// S3-compatible object storage, `s3://bucket/prefix`.
    S3 {
        /// `s3://bucket/prefix`.
        url: String,
        /// The `AWS_*` variables set (credentials, region, endpoint...).
        aws: AwsVars,
    },
}

/// The `AWS_*` variables, read with the rest of the configuration. `Debug` shows their
/// names only: a secret key is among them.
#[derive(Clone, PartialEq, Eq)]
pub struct AwsVars(pub Vec<(String, String)>);

impl std::fmt::Debug for AwsVars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(name, _)| name))
            .finish()
    }
}

/// The `AWS_*` variables object_store reads (`AmazonS3ConfigKey`), the common ones.
const AWS_VARS: [&str; 13] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT",
    "AWS_ALLOW_HTTP",
    "AWS_VIRTUAL_HOSTED_STYLE_REQUEST",
    "AWS_CONNECT_TIMEOUT",
    "AWS_TIMEOUT",
    "AWS_S3_EXPRESS",
    "AWS_UNSIGNED_PAYLOAD",
];

/// Avatars and content security.
#[derive(Debug, Clone)]
pub struct MediaConfig {
    /// Where files are kept.
    pub store: MediaStoreConfig,
    /// What a file's name (`avatars/x.jpg`) is appended to in `avatarUrl`; `None`: the
    /// server's own address once it listens, `/media` (set `PUBLIC_BASE_URL` in production).
    pub public_base_url: Option<String>,
    /// Bytes, pixels, size.
    pub limits: AvatarLimits,
    /// Uploads decoded at once.
    pub upload_concurrency: usize,
    /// WeChat's content security.
    pub content_check: ContentCheckSettings,
}

pub(super) fn media_config(dev: bool, vars: &mut Vars<'_>) -> MediaConfig {
    let store = match vars.get("MEDIA_STORE") {
        None => MediaStoreConfig::Database,
        Some(text) if text.trim() == "database" => MediaStoreConfig::Database,
        Some(text) if text.trim().starts_with("s3://") && text.trim().len() > 5 => {
            MediaStoreConfig::S3 {
                url: text.trim().to_owned(),
                aws: AwsVars(
                    AWS_VARS
                        .iter()
                        .filter_map(|name| Some(((*name).to_owned(), vars.get(name)?)))
                        .collect(),
                ),
            }
        }
        Some(text) => {
            vars.problem(format!(
                "MEDIA_STORE {text:?} is not `database` (the default) or s3://bucket/prefix"
            ));
            MediaStoreConfig::Database
        }
    };
    let origin = |vars: &mut Vars<'_>, name: &str| -> Option<String> {
        let text = vars.get(name)?;
        let trimmed = text.trim().trim_end_matches('/').to_owned();
        let lower = trimmed.to_ascii_lowercase();
        if (lower.starts_with("https://") || lower.starts_with("http://"))
            && !trimmed.contains(char::is_whitespace)
            && trimmed.len() > "http://".len()
        {
            Some(trimmed)
        } else {
            vars.problem(format!("{name} {text:?} must be an http(s):// URL"));
            None
        }
    };
    let media_base = origin(vars, "MEDIA_PUBLIC_BASE_URL");
    let public_base = origin(vars, "PUBLIC_BASE_URL");
    let public_base_url = match (media_base, public_base) {
        (Some(media), _) => Some(media),
        (None, Some(public)) => Some(format!("{public}/media")),
        (None, None) => {
            if !dev {
                log::warn!(
                    "PUBLIC_BASE_URL is not set: avatar URLs name the address the server \
                     listens on, which a phone or WeChat may not reach"
                );
            }
            None
        }
    };
    let defaults = AvatarLimits::default();
    let limits = AvatarLimits {
        max_bytes: vars.number(
            "AVATAR_MAX_BYTES",
            defaults.max_bytes,
            1024..=50 * 1024 * 1024,
        ),
        size: vars.number("AVATAR_SIZE", defaults.size, 32..=2048),
        ..defaults
    };
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    // Each decoding may hold up to about 150 MiB (a large progressive JPEG).
    let upload_concurrency = vars.number("AVATAR_UPLOAD_CONCURRENCY", cores, 1..=64);
    let enabled = match vars.get("CONTENT_CHECK").as_deref().map(str::trim) {
        // On wherever WeChat is real; dev mode's fake answers too, when asked to.
        None => !dev,
        Some("on") => true,
        Some("off") => false,
        Some(other) => {
            vars.problem(format!("CONTENT_CHECK {other:?} is not on or off"));
            !dev
        }
    };
    let fail_closed = match vars.get("CONTENT_CHECK_FAIL").as_deref().map(str::trim) {
        None | Some("open") => false,
        Some("closed") => true,
        Some(other) => {
            vars.problem(format!(
                "CONTENT_CHECK_FAIL {other:?} is not open (the default) or closed"
            ));
            false
        }
    };
    MediaConfig {
        store,
        public_base_url,
        limits,
        upload_concurrency,
        content_check: ContentCheckSettings {
            enabled,
            fail_closed,
        },
    }
}

/// The base of avatar URLs when none is configured: the address the server listens on (this
/// machine's loopback when it listens on every address).
pub fn listening_base_url(addr: SocketAddr) -> String {
    let host = if addr.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], addr.port()))
    } else {
        addr
    };
    format!("http://{host}/media")
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(dev: bool, pairs: &[(&str, &str)]) -> (MediaConfig, Vec<String>) {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let mut vars = Vars::new(|name| map.get(name).cloned());
        let config = media_config(dev, &mut vars);
        (config, vars.problems().err().unwrap_or_default())
    }

    #[test]
    fn the_database_keeps_avatars_unless_an_s3_url_is_given() {
        assert_eq!(read(false, &[]).0.store, MediaStoreConfig::Database);
        let (config, problems) = read(
            false,
            &[
                ("MEDIA_STORE", "s3://avatars/prod"),
                ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
                ("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG"),
                ("UNRELATED", "x"),
            ],
        );
        assert!(problems.is_empty(), "{problems:?}");
        let MediaStoreConfig::S3 { url, aws } = &config.store else {
            panic!("{:?}", config.store);
        };
        assert_eq!(url, "s3://avatars/prod");
        assert_eq!(aws.0.len(), 2, "the AWS_* variables only");
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("wJalrXUtnFEMI"),
            "no secret in Debug: {shown}"
        );
        let (_, problems) = read(false, &[("MEDIA_STORE", "ftp://x")]);
        assert!(problems[0].starts_with("MEDIA_STORE"), "{problems:?}");
    }

    #[test]
    fn content_checks_are_on_where_wechat_is_real_and_fail_open_by_default() {
        let real = read(false, &[]).0.content_check;
        assert!(real.enabled && !real.fail_closed);
        assert!(!read(true, &[]).0.content_check.enabled, "dev mode: off");
        let set = read(
            true,
            &[("CONTENT_CHECK", "on"), ("CONTENT_CHECK_FAIL", "closed")],
        );
        assert!(set.0.content_check.enabled && set.0.content_check.fail_closed);
        let (_, problems) = read(
            false,
            &[("CONTENT_CHECK", "yes"), ("CONTENT_CHECK_FAIL", "x")],
        );
        assert_eq!(problems.len(), 2, "{problems:?}");
    }

    #[test]
    fn avatar_urls_use_the_cdn_then_the_public_origin_then_the_listening_address() {
        let both = [
            ("MEDIA_PUBLIC_BASE_URL", "https://cdn.example/"),
            ("PUBLIC_BASE_URL", "https://api.example"),
        ];
        assert_eq!(
            read(false, &both).0.public_base_url.as_deref(),
            Some("https://cdn.example")
        );
        assert_eq!(
            read(false, &both[1..]).0.public_base_url.as_deref(),
            Some("https://api.example/media")
        );
        assert_eq!(read(false, &[]).0.public_base_url, None);
        assert_eq!(
            listening_base_url(SocketAddr::from(([0, 0, 0, 0], 8080))),
            "http://127.0.0.1:8080/media"
        );
        let (_, problems) = read(false, &[("PUBLIC_BASE_URL", "api.example")]);
        assert!(problems[0].starts_with("PUBLIC_BASE_URL"), "{problems:?}");
    }

    #[test]
    fn avatar_limits_are_read_within_bounds() {
        let config = read(
            false,
            &[("AVATAR_MAX_BYTES", "1048576"), ("AVATAR_SIZE", "320")],
        )
        .0;
        assert_eq!(
            (config.limits.max_bytes, config.limits.size),
            (1_048_576, 320)
        );
        let (_, problems) = read(false, &[("AVATAR_SIZE", "0")]);
        assert!(problems[0].starts_with("AVATAR_SIZE"), "{problems:?}");
    }
}
