//! WeChat message push ("消息推送"): the signatures, safe mode's AES-256-CBC with 32-byte PKCS#7
//! blocks and the appid trailer, and the bodies in XML or JSON. Pure functions, no HTTP.

use aes::Aes256;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use base64::engine::{GeneralPurpose, GeneralPurposeConfig};
#[cfg(any(test, feature = "push-encrypt"))]
use cbc::cipher::BlockModeEncrypt;
use cbc::cipher::{BlockModeDecrypt, KeyIvInit, block_padding::NoPadding};
use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;

/// The length of an EncodingAESKey: base64 of 32 bytes without its `=`.
pub const ENCODING_AES_KEY_LEN: usize = 43;
/// Safe mode pads to blocks of 32 bytes, not AES's 16.
const PAD_BLOCK: usize = 32;
/// The random prefix and the length field before the message.
const HEADER: usize = 20;

/// Why a push, or push settings, were refused. Every malformed input has its kind; none panics.
/// A transport answers all of them alike (WeChat's pushes are not a place for an oracle).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// The Token is not 3 to 32 letters and digits.
    #[error("the push Token must be 3 to 32 letters and digits")]
    BadToken,
    /// The EncodingAESKey is not 43 characters of base64 of 32 bytes.
    #[error("the EncodingAESKey must be {ENCODING_AES_KEY_LEN} characters of base64")]
    BadAesKey,
    /// The signature does not match.
    #[error("the push signature does not match")]
    Signature,
    /// The encrypted message does not decrypt to a well-formed message of this app.
    #[error("the push does not decrypt")]
    Decrypt,
    /// The message is encrypted for another app.
    #[error("the push is another app's")]
    OtherApp,
    /// The body is neither the XML nor the JSON WeChat sends.
    #[error("the push body is not WeChat's XML or JSON")]
    Body,
}

/// An app's message-push settings, as WeChat's console shows them. `Debug` shows neither.
#[derive(Clone, PartialEq, Eq)]
pub struct PushSettings {
    token: String,
    key: Option<[u8; 32]>,
}

impl std::fmt::Debug for PushSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushSettings")
            .field("safe_mode", &self.key.is_some())
            .finish_non_exhaustive()
    }
}

impl PushSettings {
    /// Settings of the Token and, for safe mode, the EncodingAESKey.
    pub fn new(token: &str, encoding_aes_key: Option<&str>) -> Result<Self, PushError> {
        if !(3..=32).contains(&token.len()) || !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(PushError::BadToken);
        }
        let key = encoding_aes_key.map(decode_aes_key).transpose()?;
        Ok(Self {
            token: token.to_owned(),
            key,
        })
    }

    /// Whether an EncodingAESKey is set, so safe-mode pushes can be read.
    pub fn safe_mode(&self) -> bool {
        self.key.is_some()
    }

    /// The URL check's and plain mode's signature: hex `sha1` of the Token, `timestamp` and
    /// `nonce`, sorted and concatenated.
    pub fn signature(&self, timestamp: &str, nonce: &str) -> String {
        sorted_sha1(&[&self.token, timestamp, nonce])
    }

    /// Safe mode's `msg_signature`: the same over the `Encrypt` text too.
    pub fn msg_signature(&self, timestamp: &str, nonce: &str, encrypt: &str) -> String {
        sorted_sha1(&[&self.token, timestamp, nonce, encrypt])
    }

    /// Whether `signature` is [`PushSettings::signature`], compared in constant time.
    pub fn verify_signature(&self, signature: &str, timestamp: &str, nonce: &str) -> bool {
        same(&self.signature(timestamp, nonce), signature)
    }

    /// Whether `msg_signature` is [`PushSettings::msg_signature`], in constant time.
    pub fn verify_msg_signature(
        &self,
        msg_signature: &str,
        timestamp: &str,
        nonce: &str,
        encrypt: &str,
    ) -> bool {
        same(
            &self.msg_signature(timestamp, nonce, encrypt),
            msg_signature,
        )
    }

    /// Decrypts a safe-mode `Encrypt` for app `appid` and returns the message (XML or JSON
    /// text). Fails without an EncodingAESKey.
    pub fn decrypt(&self, encrypt: &str, appid: &str) -> Result<String, PushError> {
        let key = self.key.as_ref().ok_or(PushError::Decrypt)?;
        let data = STANDARD
            .decode(encrypt.trim())
            .map_err(|_| PushError::Decrypt)?;
        if data.is_empty() || data.len() % PAD_BLOCK != 0 {
            return Err(PushError::Decrypt);
        }
        let mut plain = cbc::Decryptor::<Aes256>::new_from_slices(key, &key[..16])
            .map_err(|_| PushError::Decrypt)?
            .decrypt_padded_vec::<NoPadding>(&data)
            .map_err(|_| PushError::Decrypt)?;
        let pad = usize::from(*plain.last().ok_or(PushError::Decrypt)?);
        if !(1..=PAD_BLOCK).contains(&pad)
            || plain.len() < HEADER + pad
            || !plain[plain.len() - pad..]
                .iter()
                .all(|b| usize::from(*b) == pad)
        {
            return Err(PushError::Decrypt);
        }
        plain.truncate(plain.len() - pad);
        let length = u32::from_be_bytes([plain[16], plain[17], plain[18], plain[19]]);
        let length = usize::try_from(length).map_err(|_| PushError::Decrypt)?;
        let end = HEADER.checked_add(length).ok_or(PushError::Decrypt)?;
        if end > plain.len() {
            return Err(PushError::Decrypt);
        }
        if &plain[end..] != appid.as_bytes() {
            return Err(PushError::OtherApp);
        }
        String::from_utf8(plain[HEADER..end].to_vec()).map_err(|_| PushError::Decrypt)
    }

    /// Encrypts `message` for app `appid` as WeChat does, with `random` as the 16-byte prefix:
    /// for fakes and tests (feature `push-encrypt`; a server never encrypts a push). `None`
    /// without an EncodingAESKey.
    #[cfg(any(test, feature = "push-encrypt"))]
    pub fn encrypt(&self, random: [u8; 16], message: &str, appid: &str) -> Option<String> {
        let key = self.key.as_ref()?;
        let length = u32::try_from(message.len()).ok()?;
        let mut plain = Vec::with_capacity(HEADER + message.len() + appid.len() + PAD_BLOCK);
        plain.extend_from_slice(&random);
        plain.extend_from_slice(&length.to_be_bytes());
        plain.extend_from_slice(message.as_bytes());
        plain.extend_from_slice(appid.as_bytes());
        let pad = PAD_BLOCK - plain.len() % PAD_BLOCK;
        plain.extend(std::iter::repeat_n(u8::try_from(pad).ok()?, pad));
        let sealed = cbc::Encryptor::<Aes256>::new_from_slices(key, &key[..16])
            .ok()?
            .encrypt_padded_vec::<NoPadding>(&plain);
        Some(STANDARD.encode(sealed))
    }
}

/// WeChat's console makes the key from random letters and digits, so the unused low bits of its
/// last character need not be zero: the decoder allows them.
fn decode_aes_key(key: &str) -> Result<[u8; 32], PushError> {
    if key.len() != ENCODING_AES_KEY_LEN {
        return Err(PushError::BadAesKey);
    }
    let lenient = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
    );
    lenient
        .decode(format!("{key}="))
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .ok_or(PushError::BadAesKey)
}

fn sorted_sha1(parts: &[&str]) -> String {
    let mut parts = parts.to_vec();
    parts.sort_unstable();
    let mut hasher = Sha1::new();
    for part in parts {
        hasher.update(part.as_bytes());
    }
    wxlogin_domain::to_hex(&hasher.finalize())
}

fn same(expected: &str, given: &str) -> bool {
    expected
        .as_bytes()
        .ct_eq(given.trim().to_ascii_lowercase().as_bytes())
        .into()
}

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

    /// The derived safe-mode vector of the WeChat facts.
    const TOKEN: &str = "pamtest";
    const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
    const APPID: &str = "wx4f4bc4dec97d474b";
    const TIMESTAMP: &str = "1796188000";
    const NONCE: &str = "1320562132";
    const MESSAGE: &str = r#"{"ToUserName":"gh_870882ca4b1","FromUserName":"oaKk346BaWE-eIn4oSRWbaM9vR7s","CreateTime":1796188000,"MsgType":"event","Event":"user_authorization_cancellation","OpenID":"o-push1","AppID":"wx4f4bc4dec97d474b"}"#;
    const ENCRYPT: &str = "Q3stYC6hdFzMh9T8HCvyDG8ro7Krd28HJvmk52M5Skda6HkHypaQ26zH45suHNZamPyxQPZWx/Y8xBNuEk0T/EFrRlY4SLljbNe8ViNB6DdS5UJD1JkjaTNjWnkf3mvlc+PY0WcG0ImuAajROKBuRlfa56Oo/8T+js1l9tISUgc7323RIUQQaSD+HXtxziNxJthxM9j0pdRMflGd7VWfMO9hBIBDJSzq67S9W47gL9I6VUmPb/TdPgacQFDJvUiEbnEhzVzrcNKgbKgqTby8JjgZ+44isgooJs99gu2CeJbsoAoV/Z3pu6sqV6MuBfhvHb10PEHnaKVoHdmRJBQSYA==";

    fn settings() -> PushSettings {
        PushSettings::new(TOKEN, Some(KEY)).expect("valid settings")
    }

    #[test]
    fn the_derived_vector_encrypts_signs_and_decrypts_as_given() {
        let s = settings();
        assert_eq!(
            s.encrypt(*b"0123456789abcdef", MESSAGE, APPID).as_deref(),
            Some(ENCRYPT)
        );
        assert_eq!(
            s.msg_signature(TIMESTAMP, NONCE, ENCRYPT),
            "b76c73c03d8ed2f00a5e31c20e2682e3b03e6dab"
        );
        assert_eq!(
            s.signature(TIMESTAMP, NONCE),
            "eecc0832af486f9376bf698259bb91bb19363ab3"
        );
        assert!(s.verify_msg_signature(
            "B76C73C03D8ED2F00A5E31C20E2682E3B03E6DAB",
            TIMESTAMP,
            NONCE,
            ENCRYPT
        ));
        assert_eq!(s.decrypt(ENCRYPT, APPID).as_deref(), Ok(MESSAGE));
    }

    #[test]
    fn another_apps_ciphertext_and_altered_ones_are_refused() {
        let s = settings();
        assert_eq!(s.decrypt(ENCRYPT, "wxanother"), Err(PushError::OtherApp));
        let mut altered = ENCRYPT.to_owned().into_bytes();
        altered[10] = if altered[10] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).expect("ascii");
        assert!(s.decrypt(&altered, APPID).is_err());
        assert!(!s.verify_signature("eecc0832af486f9376bf698259bb91bb19363ab4", TIMESTAMP, NONCE));
        let plain_only = PushSettings::new(TOKEN, None).expect("valid");
        assert_eq!(plain_only.decrypt(ENCRYPT, APPID), Err(PushError::Decrypt));
    }

    #[test]
    fn settings_are_checked_and_hidden() {
        assert_eq!(PushSettings::new("ab", None), Err(PushError::BadToken));
        assert_eq!(PushSettings::new("tok en", None), Err(PushError::BadToken));
        assert_eq!(
            PushSettings::new(TOKEN, Some(&KEY[..42])),
            Err(PushError::BadAesKey)
        );
        assert!(!format!("{:?}", settings()).contains(TOKEN));
    }

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
