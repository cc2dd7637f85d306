//! WeChat message push ("消息推送"): the signatures, and safe mode's AES-256-CBC with 32-byte
//! PKCS#7 blocks and the appid trailer. The bodies are read in `push_body.rs`. Pure functions,
//! no HTTP.

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

#[cfg(test)]
mod tests;
