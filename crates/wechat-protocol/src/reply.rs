//! Reading WeChat's JSON replies: the errcode every reply may carry, and why a reply could not
//! be read, kept as the cause of [`WeChatError::InvalidResponse`].

use serde::Deserialize;
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

/// The part every WeChat reply may carry; a success may leave both out.
#[derive(Deserialize)]
pub(crate) struct ErrorPart {
    #[serde(default)]
    pub(crate) errcode: i64,
    #[serde(default)]
    pub(crate) errmsg: String,
}

/// Reads the reply of API `what`: its errcode as an error, else the success as `T`.
pub(crate) fn parse_reply<T: serde::de::DeserializeOwned>(
    what: &str,
    body: &[u8],
) -> Result<T, WeChatError> {
    let error: ErrorPart = serde_json::from_slice(body).map_err(|e| {
        bad_reply(
            format!("{what}: not the JSON expected ({} bytes)", body.len()),
            Some(e),
        )
    })?;
    if error.errcode != 0 {
        return Err(WeChatError::from_errcode(error.errcode, &error.errmsg));
    }
    serde_json::from_slice(body).map_err(|e| {
        bad_reply(
            format!("{what}: a success without a field it needs"),
            Some(e),
        )
    })
}

/// What a JSON value is, to say so in an error without quoting it.
pub(crate) fn kind_of(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}
