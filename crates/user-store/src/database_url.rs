//! `DATABASE_URL`: which backend a URL names, and how it is shown without its password.

use wxlogin_domain::StoreError;

/// A database URL, its backend picked by scheme.
///
/// Picked here rather than by diesel's `MultiConnection::establish`, which tries each backend
/// in turn and reports only "Invalid connection url for multiconnection".
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite://<path>` or `sqlite:<path>`: a file (created with its folder if missing).
    Sqlite(String),
    /// `postgres://...` or `postgresql://...`, as libpq reads it.
    Postgres(String),
}

impl std::fmt::Debug for DatabaseUrl {
    /// Without the credentials a PostgreSQL URL may carry, wherever they are.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite://{path}"),
            Self::Postgres(url) => f.write_str(&redact_postgres_url(url)),
        }
    }
}

/// The query parameters of a libpq URL that hold a secret.
const SECRET_PARAMETERS: [&str; 3] = ["password", "sslpassword", "passfile"];

/// A PostgreSQL URL fit for a log line: the user info (`user:password@`) and every secret query
/// parameter (`?password=…`, also with the host given as a parameter) replaced. A password may
/// hold an unencoded `@`: the user info ends at the last `@` before the path.
fn redact_postgres_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let (before_query, query) = match rest.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (rest, None),
    };
    // The path starts at the first `/` after the user info, if there is any.
    let host_start = before_query.rfind('@').map_or(0, |at| at + 1);
    let (authority, path) = match before_query[host_start..].find('/') {
        Some(slash) => before_query.split_at(host_start + slash),
        None => (before_query, ""),
    };
    let host = &authority[host_start..];
    let mut shown = format!("{scheme}://");
    if host_start > 0 {
        shown.push_str("<credentials>@");
    }
    shown.push_str(host);
    shown.push_str(path);
    if let Some(query) = query {
        let parameters: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _))
                    if SECRET_PARAMETERS.contains(&name.to_ascii_lowercase().as_str()) =>
                {
                    format!("{name}=<redacted>")
                }
                _ => pair.to_owned(),
            })
            .collect();
        shown.push('?');
        shown.push_str(&parameters.join("&"));
    }
    shown
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

impl DatabaseUrl {
    /// Reads a URL, refusing schemes the store does not serve and SQLite's `:memory:`, which
    /// would give every pooled connection its own empty database.
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(url.to_owned()));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| StoreError::InvalidUrl(format!("{:?}", scheme_of(url))))?;
        if path.is_empty() || path.contains(":memory:") || path.starts_with("file::memory") {
            return Err(StoreError::InvalidUrl(format!(
                "{url:?} (an in-memory SQLite database is one per connection; give a file path)"
            )));
        }
        Ok(Self::Sqlite(path.to_owned()))
    }

    /// Whether it is a PostgreSQL URL.
    pub fn is_postgres(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }
}

/// Only the scheme, so an error message never echoes a password.
fn scheme_of(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, _)) => format!("{scheme}://..."),
        None => "(no scheme)".to_owned(),
    }
}
