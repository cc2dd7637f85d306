//! The body of a WeChat push, in XML or JSON, read into its fields: the top level, and the
//! members of objects one level down. Pure, no HTTP.

use crate::push::PushError;

/// The fields of a push body WeChat sends, read from XML (`<xml><Field>…</Field></xml>`, text
/// or CDATA) or JSON (an object of strings and numbers), whichever the body is. The top level
/// is read, and the members of an object one level down as `object.member` (a content check's
/// `result.suggest`: `"result":{"suggest":…}` in JSON, `<result><suggest>…</suggest></result>`
/// in XML); an object is not a field itself, deeper levels and JSON arrays are skipped. XML does
/// not tell a one-element list from an object, so a repeated element's members are read too,
/// and [`PushFields::get`] answers the first. Keys are compared trimmed (WeChat's own JSON
/// examples carry stray spaces).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushFields(Vec<(String, String)>);

impl PushFields {
    /// The value of `field` (`Event`, or `result.suggest` one level down), if the body has it.
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

/// A string or a number as text; anything else is not a field.
fn scalar(value: serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn parse_json(text: &str) -> Result<PushFields, PushError> {
    let serde_json::Value::Object(object) =
        serde_json::from_str(text).map_err(|_| PushError::Body)?
    else {
        return Err(PushError::Body);
    };
    let mut fields = Vec::new();
    for (name, value) in object {
        let name = name.trim();
        if let serde_json::Value::Object(members) = value {
            fields.extend(members.into_iter().filter_map(|(member, value)| {
                Some((format!("{name}.{}", member.trim()), scalar(value)?))
            }));
        } else if let Some(value) = scalar(value) {
            fields.push((name.to_owned(), value));
        }
    }
    Ok(PushFields(fields))
}

/// An element of the root being read, and whether it held elements (then it is an object,
/// whose members are the fields, not it).
struct OpenField {
    name: String,
    value: String,
    has_members: bool,
}

/// The text being collected at `depth`: a top-level field's (2) or a member's (3).
fn text_at<'a>(
    depth: usize,
    field: &'a mut Option<OpenField>,
    member: &'a mut Option<OpenField>,
) -> Option<&'a mut String> {
    match depth {
        2 => field.as_mut().map(|f| &mut f.value),
        3 => member.as_mut().map(|m| &mut m.value),
        _ => None,
    }
}

fn element_name(name: quick_xml::name::QName<'_>) -> Result<String, PushError> {
    std::str::from_utf8(name.as_ref())
        .map(str::to_owned)
        .map_err(|_| PushError::Body)
}

fn parse_xml(text: &str) -> Result<PushFields, PushError> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut fields = Vec::new();
    let mut depth = 0usize;
    let mut field: Option<OpenField> = None;
    let mut member: Option<OpenField> = None;
    let mut saw_root = false;
    loop {
        match reader.read_event().map_err(|_| PushError::Body)? {
            Event::Start(start) => {
                depth += 1;
                if depth == 1 {
                    saw_root = true;
                } else if depth == 2 {
                    field = Some(OpenField {
                        name: element_name(start.name())?,
                        value: String::new(),
                        has_members: false,
                    });
                } else if depth == 3
                    && let Some(parent) = field.as_mut()
                {
                    parent.has_members = true;
                    member = Some(OpenField {
                        name: format!("{}.{}", parent.name, element_name(start.name())?),
                        value: String::new(),
                        has_members: false,
                    });
                } else if depth == 4
                    && let Some(object) = member.as_mut()
                {
                    // Two levels down: not read, and the member holding it is no field.
                    object.has_members = true;
                }
            }
            Event::Empty(empty) if depth == 1 => {
                fields.push((element_name(empty.name())?, String::new()));
            }
            Event::Empty(empty) if depth == 2 => {
                if let Some(parent) = field.as_mut() {
                    parent.has_members = true;
                    fields.push((
                        format!("{}.{}", parent.name, element_name(empty.name())?),
                        String::new(),
                    ));
                }
            }
            Event::Text(t) => {
                if let Some(value) = text_at(depth, &mut field, &mut member) {
                    let decoded = t.decode().map_err(|_| PushError::Body)?;
                    let unescaped =
                        quick_xml::escape::unescape(&decoded).map_err(|_| PushError::Body)?;
                    value.push_str(&unescaped);
                }
            }
            // `&amp;`, `&#38;`: quick-xml hands entity references over apart from the text.
            Event::GeneralRef(r) => {
                if let Some(value) = text_at(depth, &mut field, &mut member) {
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
            Event::CData(c) => {
                if let Some(value) = text_at(depth, &mut field, &mut member) {
                    value.push_str(std::str::from_utf8(&c).map_err(|_| PushError::Body)?);
                }
            }
            Event::End(_) => {
                let done = match depth {
                    2 => field.take(),
                    3 => member.take(),
                    _ => None,
                };
                if let Some(done) = done
                    && !done.has_members
                {
                    fields.push((done.name, done.value.trim().to_owned()));
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

    #[test]
    fn members_one_level_down_are_read_as_object_dot_member() {
        let json = br#"{"Event":"wxa_media_check","version":2,"result":{"suggest":"risky","label":"20002"," extra ":{"deep":1}},"detail":[{"suggest":"risky"}],"flag":true}"#;
        let fields = parse_push_body(json).expect("json");
        assert_eq!(fields.get("result.suggest"), Some("risky"));
        assert_eq!(fields.get("result.label"), Some("20002"));
        assert_eq!(fields.get("version"), Some("2"));
        for absent in ["result", "detail", "detail.suggest", "result.extra", "flag"] {
            assert_eq!(fields.get(absent), None, "{absent}");
        }
        let xml = b"<xml><Event><![CDATA[wxa_media_check]]></Event><result><suggest><![CDATA[risky]]></suggest><label>20002</label><note>a &amp; b</note><empty/><deep><x>1</x></deep></result><trace_id>t1</trace_id></xml>";
        let fields = parse_push_body(xml).expect("xml");
        assert_eq!(fields.get("result.suggest"), Some("risky"));
        assert_eq!(fields.get("result.label"), Some("20002"));
        assert_eq!(fields.get("result.note"), Some("a & b"));
        assert_eq!(fields.get("result.empty"), Some(""));
        assert_eq!(fields.get("trace_id"), Some("t1"));
        assert_eq!(fields.get("result"), None, "an object is not a field");
        assert_eq!(
            fields.get("result.deep.x"),
            None,
            "two levels down is not read"
        );
        assert_eq!(fields.get("result.deep"), None, "an object is not a field");
        assert_eq!(fields.get("result.x"), None);
    }
}
