//! Why a reply from WeChat could not be read, kept as the cause of
//! [`WeChatError::InvalidResponse`].

use wxlogin_domain::{Cause, WeChatError};

/// What was wrong with a reply, and the parser's own error when there is one.
#[derive(Debug, thiserror::Error)]
#[error("{what}")]
struct BadReply {
    what: String,
    #[source]
    source: Option<serde_json::Error>,
}

/// An `InvalidResponse` saying `what`, caused by `source` if the parser gave one.
pub(crate) fn bad_reply(what: impl Into<String>, source: Option<serde_json::Error>) -> WeChatError {
    WeChatError::InvalidResponse(Cause::new(BadReply {
        what: what.into(),
        source,
    }))
}
