//! The `WEBHOOKS_FILE`: which URLs hear which events, and the secret each one's deliveries are
//! signed with.
//!
//! ```toml
//! [[webhook]]
//! name = "crm"   # optional: how logs and the admin API name it
//! url = "https://hooks.example.com/wxlogin?tenant=7"
//! secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
//! events = ["user.created", "user.deleted"]
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use url::Url;

use crate::events::is_event_type;
use crate::signing::{Secret, SecretError};

/// One receiver of webhooks, checked: an http(s) URL, a valid secret, known event types.
#[derive(Clone)]
pub struct Endpoint {
    key: String,
    name: Option<String>,
    url: Url,
    secret: Secret,
    events: Vec<String>,
}

impl Endpoint {
    /// Whether this endpoint subscribed to `event_type`.
    pub fn wants(&self, event_type: &str) -> bool {
        self.events.iter().any(|event| event == event_type)
    }

    /// What deliveries are keyed by in the outbox: `ep_` and a digest of the URL as written.
    /// The URL may hold a token (in its path, query or userinfo), so the database holds only
    /// this; the same URL in every instance's file gives the same key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// `scheme://host:port`, without path, userinfo or query (where receivers put tokens):
    /// what errors may show.
    pub fn shown_url(&self) -> String {
        shown_url(&self.url)
    }

    /// How logs and the admin API name it: its `name`, else [`Endpoint::shown_url`].
    pub fn label(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.shown_url())
    }

    /// The URL to POST to.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The key this endpoint's deliveries are signed with.
    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    /// The event types this endpoint subscribed to, as written.
    pub fn events(&self) -> &[String] {
        &self.events
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("url", &self.shown_url())
            .field("secret", &self.secret)
            .field("events", &self.events)
            .finish()
    }
}

/// The key of the URL written so: see [`Endpoint::key`].
fn key_of(written: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(written.as_bytes());
    format!("ep_{}", &wxlogin_domain::to_hex(&digest)[..24])
}

fn shown_url(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port_or_known_default() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    }
}

/// Why the endpoints file was refused. Webhooks are numbered from 1 in the order of the file's
/// `[[webhook]]` tables. No variant carries a secret or a URL's query.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the webhooks file {}", path.display())]
    Read {
        /// The file named.
        path: PathBuf,
        /// Why it could not be read.
        #[source]
        source: std::io::Error,
    },
    /// The file is not TOML of the expected shape (an unknown key, a missing one, a wrong type).
    #[error("webhooks file, line {line}: {message}")]
    Syntax {
        /// 1-based line of the problem.
        line: usize,
        /// The TOML parser's message, without its quote of the line (which may hold a secret).
        message: String,
    },
    /// A `url` that does not parse as a URL.
    #[error("webhook #{webhook}: `url` is not a valid URL: {reason}")]
    BadUrl {
        /// Which `[[webhook]]`, from 1.
        webhook: usize,
        /// Why it does not parse.
        #[source]
        reason: url::ParseError,
    },
    /// A `url` whose scheme is not http or https.
    #[error("webhook #{webhook}: `url` must be http or https, not `{scheme}`")]
    UnsupportedScheme {
        /// Which `[[webhook]]`, from 1.
        webhook: usize,
        /// The scheme written.
        scheme: String,
    },
    /// A `secret` that is not `whsec_` and 24 to 64 bytes of base64.
    #[error("webhook #{webhook}: bad `secret`")]
    BadSecret {
        /// Which `[[webhook]]`, from 1.
        webhook: usize,
        /// What is wrong with it.
        #[source]
        reason: SecretError,
    },
    /// An empty `events` list: the endpoint would never be called.
    #[error("webhook #{webhook}: `events` is empty")]
    NoEvents {
        /// Which `[[webhook]]`, from 1.
        webhook: usize,
    },
    /// An event type that wxlogin does not send.
    #[error("webhook #{webhook}: unknown event type `{event}` (known: {known})", known = crate::EVENT_TYPES.join(", "))]
    UnknownEvent {
        /// Which `[[webhook]]`, from 1.
        webhook: usize,
        /// The name written.
        event: String,
    },
    /// `name` is empty, longer than 64 characters, or holds control characters.
    #[error("webhook #{webhook}: `name` must be 1 to 64 printable characters")]
    BadName {
        /// Which `[[webhook]]`, from 1.
        webhook: usize,
    },
    /// Two endpoints with the same URL: deliveries are keyed by URL, so they would collide.
    #[error("webhook #{webhook}: same url as webhook #{first} ({url})")]
    DuplicateUrl {
        /// The later `[[webhook]]`, from 1.
        webhook: usize,
        /// The earlier one with the same URL.
        first: usize,
        /// The URL as [`Endpoint::shown_url`] shows it.
        url: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    webhook: Vec<RawEndpoint>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEndpoint {
    name: Option<String>,
    url: String,
    secret: String,
    events: Vec<String>,
}

/// Reads and checks the endpoints file at `path` (see [`parse_endpoints`]).
pub fn load_endpoints(path: &Path) -> Result<Vec<Endpoint>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_endpoints(&text)
}

/// Parses the endpoints file's text: one `[[webhook]]` table per endpoint with `url`, `secret`
/// and `events`, and nothing else. A file with no table configures no webhooks.
pub fn parse_endpoints(text: &str) -> Result<Vec<Endpoint>, ConfigError> {
    let file: File = toml::from_str(text).map_err(|error| syntax_error(text, &error))?;
    let mut endpoints: Vec<Endpoint> = Vec::with_capacity(file.webhook.len());
    for (index, raw) in file.webhook.into_iter().enumerate() {
        let webhook = index + 1;
        let endpoint = check(webhook, raw)?;
        if let Some(first) = endpoints.iter().position(|seen| seen.url == endpoint.url) {
            return Err(ConfigError::DuplicateUrl {
                webhook,
                first: first + 1,
                url: endpoint.shown_url(),
            });
        }
        endpoints.push(endpoint);
    }
    Ok(endpoints)
}

fn check(webhook: usize, raw: RawEndpoint) -> Result<Endpoint, ConfigError> {
    let url = Url::parse(&raw.url).map_err(|reason| ConfigError::BadUrl { webhook, reason })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ConfigError::UnsupportedScheme {
            webhook,
            scheme: url.scheme().to_owned(),
        });
    }
    let secret =
        Secret::parse(&raw.secret).map_err(|reason| ConfigError::BadSecret { webhook, reason })?;
    if raw.events.is_empty() {
        return Err(ConfigError::NoEvents { webhook });
    }
    if let Some(name) = &raw.name
        && (name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control))
    {
        return Err(ConfigError::BadName { webhook });
    }
    if let Some(event) = raw.events.iter().find(|event| !is_event_type(event)) {
        return Err(ConfigError::UnknownEvent {
            webhook,
            event: event.clone(),
        });
    }
    Ok(Endpoint {
        key: key_of(&raw.url),
        name: raw.name,
        url,
        secret,
        events: raw.events,
    })
}

// toml's Display quotes the offending line, which may be a `secret = ...` line: keep only its
// message and turn the span into a line number.
fn syntax_error(text: &str, error: &toml::de::Error) -> ConfigError {
    let line = error.span().map_or(1, |span| {
        let end = span.start.min(text.len());
        text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    });
    ConfigError::Syntax {
        line,
        message: without_quoted_values(error.message()),
    }
}

/// The message with every quoted value replaced by `"…"`: serde quotes the value it found
/// (`invalid type: string "whsec_…", expected a sequence` when a secret is where the events
/// belong).
fn without_quoted_values(message: &str) -> String {
    let mut shown = String::with_capacity(message.len());
    for (index, part) in message.split('"').enumerate() {
        if index % 2 == 0 {
            shown.push_str(part);
        } else {
            shown.push_str("\"…\"");
        }
    }
    shown
}

#[cfg(test)]
mod tests;
