//! WeChat open data: the `rawData` signature, the session signature, and the decryption of
//! `encryptedData`. Pure functions, no HTTP: usable from any service.

use aes::Aes128;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cbc::cipher::{BlockModeDecrypt, KeyIvInit, block_padding::Pkcs7};
use hmac::{Hmac, KeyInit, Mac};
use sha1::{Digest, Sha1};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use wxlogin_domain::{SessionKey, to_hex};

/// Why open data was refused. Every malformed input has its kind; none panics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenDataError {
    /// A field is not base64.
    #[error("{0} is not valid base64")]
    Base64(&'static str),
    /// The session_key does not decode to 16 bytes.
    #[error("the session_key is {0} bytes long; 16 are required")]
    KeyLength(usize),
    /// The iv does not decode to 16 bytes.
    #[error("the iv is {0} bytes long; 16 are required")]
    IvLength(usize),
    /// The ciphertext is empty or not a whole number of 16-byte blocks.
    #[error("the encrypted data is {0} bytes long; a non-empty multiple of 16 is required")]
    CiphertextLength(usize),
    /// The padding is wrong: usually a stale session_key, or tampered data.
    #[error("the data does not decrypt with this session_key")]
    Padding,
    /// It decrypted to something that is not a JSON object.
    #[error("the decrypted data is not a JSON object")]
    NotJson,
    /// The data is for another mini program (or has no watermark).
    #[error("the data's watermark is not this mini program's")]
    Watermark,
}

/// Hex of `sha1(raw_data + session_key)`, the session_key as its base64 text.
fn raw_data_signature(raw_data: &str, session_key: &SessionKey) -> String {
    let mut hasher = Sha1::new();
    hasher.update(raw_data.as_bytes());
    hasher.update(session_key.expose().as_bytes());
    to_hex(&hasher.finalize())
}

/// Whether `signature` is WeChat's signature of `raw_data` under `session_key`, compared in
/// constant time (case-insensitive hex).
pub fn verify_raw_data(raw_data: &str, signature: &str, session_key: &SessionKey) -> bool {
    let expected = raw_data_signature(raw_data, session_key);
    let given = signature.trim().to_ascii_lowercase();
    expected.as_bytes().ct_eq(given.as_bytes()).into()
}

/// Hex of `hmac_sha256(key = session_key's base64 text, msg)`: the signature of
/// `wxa/checksession` (with an empty `msg`) and of requests signed by the client.
pub fn session_signature(session_key: &SessionKey, msg: &[u8]) -> String {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(session_key.expose().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(msg);
    to_hex(&mac.finalize().into_bytes())
}

/// Decrypts `encryptedData` with `iv` and the user's session_key (AES-128-CBC, strict PKCS#7)
/// and checks that its `watermark.appid` is `appid`. Returns the plaintext JSON object.
///
/// Base64 is read leniently where copies are known to be mangled: line breaks anywhere are
/// dropped, a space inside the text is read as the `+` that form encoding turned into one, and
/// spaces at either end are read as padding or as such a `+`, whichever makes whole base64.
pub fn decrypt_open_data(
    encrypted_data: &str,
    iv: &str,
    session_key: &SessionKey,
    appid: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, OpenDataError> {
    let key = decode("session_key", session_key.expose())?;
    let ivs = decode_mangled("iv", iv)?;
    let datas = decode_mangled("encryptedData", encrypted_data)?;
    let mut first_error = None;
    // At most a few readings each (see `decode_mangled`); the first that decrypts wins, and a
    // failure reports the plainest reading's reason.
    for iv in &ivs {
        for data in &datas {
            match decrypt_one(&key, iv, data, appid) {
                Ok(object) => return Ok(object),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
    }
    Err(first_error.unwrap_or(OpenDataError::Base64("encryptedData")))
}

fn decrypt_one(
    key: &[u8],
    iv: &[u8],
    data: &[u8],
    appid: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, OpenDataError> {
    if key.len() != 16 {
        return Err(OpenDataError::KeyLength(key.len()));
    }
    if iv.len() != 16 {
        return Err(OpenDataError::IvLength(iv.len()));
    }
    if data.is_empty() || !data.len().is_multiple_of(16) {
        return Err(OpenDataError::CiphertextLength(data.len()));
    }
    let plain = cbc::Decryptor::<Aes128>::new_from_slices(key, iv)
        .map_err(|_| OpenDataError::KeyLength(key.len()))?
        .decrypt_padded_vec::<Pkcs7>(data)
        .map_err(|_| OpenDataError::Padding)?;
    let serde_json::Value::Object(object) =
        serde_json::from_slice(&plain).map_err(|_| OpenDataError::NotJson)?
    else {
        return Err(OpenDataError::NotJson);
    };
    if object
        .get("watermark")
        .and_then(|w| w.get("appid"))
        .and_then(|a| a.as_str())
        != Some(appid)
    {
        return Err(OpenDataError::Watermark);
    }
    Ok(object)
}

fn decode(field: &'static str, text: &str) -> Result<Vec<u8>, OpenDataError> {
    STANDARD
        .decode(text.trim())
        .map_err(|_| OpenDataError::Base64(field))
}

/// The readings of a copy that may have been line-wrapped, padded with spaces and form-encoded
/// (`+` sent as a space). A space at either end is either padding or such a `+`: of those
/// readings, the ones with the fewest restored `+` that are whole base64 are returned (at most
/// four, since base64 comes in groups of four characters), plainest first.
fn decode_mangled(field: &'static str, text: &str) -> Result<Vec<Vec<u8>>, OpenDataError> {
    let text: String = text
        .chars()
        .filter(|c| !matches!(c, '\n' | '\r' | '\t'))
        .collect();
    let core = text.trim_matches(' ');
    let leading = text.len() - text.trim_start_matches(' ').len();
    let trailing = text.len() - text.trim_end_matches(' ').len();
    let core = core.replace(' ', "+");
    let missing = (4 - core.len() % 4) % 4;
    let readings: Vec<Vec<u8>> = (0..=missing)
        .filter(|front| *front <= leading && missing - front <= trailing)
        .filter_map(|front| {
            let reading = format!("{}{core}{}", "+".repeat(front), "+".repeat(missing - front));
            STANDARD.decode(reading).ok()
        })
        .collect();
    if readings.is_empty() {
        return Err(OpenDataError::Base64(field));
    }
    Ok(readings)
}
