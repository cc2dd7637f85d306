//! The body of a WeChat push, in XML or JSON, read into its top-level fields. Pure, no HTTP.

use crate::push::PushError;

/// The fields of a push body WeChat sends, read from XML (`<xml><Field>…</Field></xml>`, text
/// or CDATA) or JSON (an object of strings and numbers), whichever the body is. Only the top
/// level is read; keys are compared trimmed (WeChat's own JSON examples carry stray spaces).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushFields(Vec<(String, String)>);

impl PushFields {
    /// The value of `field`, if the body has it.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(name, _)| name == field)
            .map(|(_, value)| value.as_str())
    }
}

/// The largest push body read; WeChat's are well under a kilobyte.
pub const MAX_PUSH_BYTES: usize = 64 * 1024;

/// Reads a push body: JSON when it starts with `{`, else XML.
pub fn parse_push_body(body: &[u8]) -> Result<PushFields, PushError> {
    if body.len() > MAX_PUSH_BYTES {
        return Err(PushError::Body);
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| PushError::Body)?
        .trim();
    if text.starts_with('{') {
        parse_json(text)
    } else {
        parse_xml(text)
    }
}

fn parse_json(text: &str) -> Result<PushFields, PushError> {
    let serde_json::Value::Object(object) =
        serde_json::from_str(text).map_err(|_| PushError::Body)?
    else {
        return Err(PushError::Body);
    };
    let fields = object
        .into_iter()
        .filter_map(|(name, value)| {
            let value = match value {
                serde_json::Value::String(s) => s,
                serde_json::Value::Number(n) => n.to_string(),
                _ => return None,
            };
            Some((name.trim().to_owned(), value))
        })
        .collect();
    Ok(PushFields(fields))
}

fn parse_xml(text: &str) -> Result<PushFields, PushError> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut fields = Vec::new();
    let mut depth = 0usize;
    let mut current: Option<(String, String)> = None;
    let mut saw_root = false;
    loop {
        match reader.read_event().map_err(|_| PushError::Body)? {
            Event::Start(start) => {
                depth += 1;
                if depth == 1 {
                    saw_root = true;
                } else if depth == 2 {
                    let name = std::str::from_utf8(start.name().as_ref())
                        .map_err(|_| PushError::Body)?
                        .to_owned();
                    current = Some((name, String::new()));
                }
            }
            Event::Empty(empty) if depth == 1 => {
                let name = std::str::from_utf8(empty.name().as_ref())
                    .map_err(|_| PushError::Body)?
                    .to_owned();
                fields.push((name, String::new()));
            }
            Event::Text(t) if depth == 2 => {
                if let Some((_, value)) = current.as_mut() {
                    let decoded = t.decode().map_err(|_| PushError::Body)?;
                    let unescaped =
                        quick_xml::escape::unescape(&decoded).map_err(|_| PushError::Body)?;
                    value.push_str(&unescaped);
                }
            }
            // `&amp;`, `&#38;`: quick-xml hands entity references over apart from the text.
            Event::GeneralRef(r) if depth == 2 => {
                if let Some((_, value)) = current.as_mut() {
                    match r.resolve_char_ref().map_err(|_| PushError::Body)? {
                        Some(c) => value.push(c),
                        None => {
                            let name = r.decode().map_err(|_| PushError::Body)?;
                            let resolved = quick_xml::escape::resolve_predefined_entity(&name)
                                .ok_or(PushError::Body)?;
                            value.push_str(resolved);
                        }
                    }
                }
            }
            Event::CData(c) if depth == 2 => {
                if let Some((_, value)) = current.as_mut() {
                    value.push_str(std::str::from_utf8(&c).map_err(|_| PushError::Body)?);
                }
            }
            Event::End(_) => {
                if depth == 2
                    && let Some(field) = current.take()
                {
                    fields.push((field.0, field.1.trim().to_owned()));
                }
                depth = depth.checked_sub(1).ok_or(PushError::Body)?;
            }
            Event::Eof => break,
            _ => {}
        }
        if depth > 8 {
            return Err(PushError::Body);
        }
    }
    if !saw_root || depth != 0 {
        return Err(PushError::Body);
    }
    Ok(PushFields(fields))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_read_from_xml_and_json() {
        let xml = b"<xml><ToUserName><![CDATA[gh_1]]></ToUserName><CreateTime>1626857200</CreateTime><Event><![CDATA[user_authorization_revoke]]></Event><OpenID><![CDATA[o1]]></OpenID><RevokeInfo><![CDATA[6]]></RevokeInfo><Note>a &amp; b &#38; c</Note></xml>";
        let fields = parse_push_body(xml).expect("xml");
        assert_eq!(fields.get("Event"), Some("user_authorization_revoke"));
        assert_eq!(fields.get("CreateTime"), Some("1626857200"));
        assert_eq!(fields.get("RevokeInfo"), Some("6"));
        assert_eq!(fields.get("Note"), Some("a & b & c"));
        let json = br#"{"ToUserName":"gh_1","CreateTime":1627359464,"Event":"user_authorization_revoke"," OpenID":"o1"," RevokeInfo":"8"}"#;
        let fields = parse_push_body(json).expect("json");
        assert_eq!(fields.get("OpenID"), Some("o1"), "keys are trimmed");
        assert_eq!(fields.get("CreateTime"), Some("1627359464"));
        for bad in [
            &b""[..],
            b"<xml>",
            b"{",
            b"[1]",
            b"<a><b></a>",
            b"\xff\xfe",
            b"plain text",
        ] {
            assert!(parse_push_body(bad).is_err(), "{bad:?}");
        }
    }
}
