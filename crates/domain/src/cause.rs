//! The cause of an error, kept whole so the chain can be logged once where it is handled.

use std::error::Error;
use std::fmt;
use std::sync::Arc;

/// A lower-level error (a driver's, an HTTP client's, a parser's) carried as the `source` of
/// one of wxlogin's classified errors. Cheap to clone, so the errors that hold it stay `Clone`.
///
/// Two causes are equal when they read the same: enough for tests that compare errors.
#[derive(Clone)]
pub struct Cause(Arc<dyn Error + Send + Sync + 'static>);

impl Cause {
    /// Wraps an error.
    pub fn new(error: impl Error + Send + Sync + 'static) -> Self {
        Self(Arc::new(error))
    }

    /// Wraps a boxed error (what `anyhow` and many libraries hand out).
    pub fn boxed(error: Box<dyn Error + Send + Sync + 'static>) -> Self {
        Self(Arc::from(error))
    }

    /// A cause that is only a message: for failures that come without an error value
    /// (an HTTP status, a lost task). The message must hold no secret.
    pub fn msg(message: impl Into<String>) -> Self {
        Self(Arc::new(Message(message.into())))
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl Error for Cause {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.0.source()
    }
}

impl PartialEq for Cause {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.to_string() == other.to_string()
    }
}

impl Eq for Cause {}

impl From<&str> for Cause {
    fn from(message: &str) -> Self {
        Self::msg(message)
    }
}

impl From<String> for Cause {
    fn from(message: String) -> Self {
        Self::msg(message)
    }
}

#[derive(Debug)]
struct Message(String);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error for Message {}

/// `error` and each of its sources, joined by `: `: one line for a log.
pub fn error_chain(error: &(dyn Error + 'static)) -> String {
    let mut line = error.to_string();
    let mut next = error.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        // A transparent wrapper repeats its source's text: say it once.
        if !line.ends_with(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        next = cause.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] Cause);

    #[test]
    fn the_chain_reads_from_the_outside_in() {
        let io = std::io::Error::other("disk on fire");
        let outer = Outer(Cause::new(io));
        assert_eq!(error_chain(&outer), "outer: disk on fire");
        assert_eq!(Cause::msg("a"), Cause::from("a"));
        assert_ne!(Cause::msg("a"), Cause::msg("b"));
    }
}
