//! An HTTP answer of a test server, and the check of the contract's error shape.

use std::collections::HashMap;

use serde_json::Value;

/// An HTTP answer, body parsed as JSON when it is JSON.
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Content-Type header.
    pub content_type: String,
    /// The raw body.
    pub text: String,
    /// The body as JSON (`Null` when empty or not JSON).
    pub json: Value,
    /// The answer's headers, names in lower case (the last value of each).
    pub headers: HashMap<String, String>,
}

impl Reply {
    /// The `error` kind of an error body.
    pub fn error(&self) -> &str {
        self.json["error"].as_str().unwrap_or("<none>")
    }
}

/// Asserts that `reply` is an error of the contract's shape with this status and kind.
pub fn assert_error(reply: &Reply, status: u16, kind: &str) {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert_eq!(reply.error(), kind, "{}", reply.text);
    assert_eq!(reply.json["code"], status, "{}", reply.text);
    assert!(
        reply.json["msg"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        reply.text
    );
    assert!(
        reply.content_type.starts_with("application/json"),
        "{}",
        reply.content_type
    );
}
