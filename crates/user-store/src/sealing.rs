//! Encryption at rest of the secrets the store keeps (session_keys, the access token), so that
//! a copy of the database alone does not unlock users' WeChat data.

use aes_gcm::aead::{Aead, Generate, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

/// The shortest sealing secret accepted, in bytes: 256 bits, the size of the derived key.
pub const MIN_SECRET_LEN: usize = 32;
/// The prefix of every sealed value, naming the format.
const FORMAT: &str = "v1";
/// What the HKDF derives, so the same server secret used elsewhere yields another key.
const HKDF_INFO: &[u8] = b"wxlogin: WeChat secrets at rest, AES-256-GCM, v1";
const NONCE_LEN: usize = 12;

/// Why a secret could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The server secret is too short to derive a key from.
    #[error("the sealing secret is {0} bytes long; at least 32 are required")]
    SecretTooShort(usize),
    /// The value was sealed under a key this server does not hold (rotated away), or is empty.
    #[error("sealed under key {0:?}, which this server does not hold")]
    UnknownKey(String),
    /// The value is not in the sealed format, was altered, or belongs to another record.
    #[error("the sealed value is malformed or was altered")]
    Corrupt,
    /// The system's random source failed.
    #[error("no randomness for a nonce: {0}")]
    Random(String),
}

/// The server secret the sealing keys derive from (`SESSION_KEY_SECRET`). `Debug` hides it.
#[derive(Clone)]
pub struct SealingSecret(Vec<u8>);

impl SealingSecret {
    /// A secret of at least [`MIN_SECRET_LEN`] bytes.
    pub fn new(secret: impl Into<Vec<u8>>) -> Result<Self, SealError> {
        let secret = secret.into();
        if secret.len() < MIN_SECRET_LEN {
            return Err(SealError::SecretTooShort(secret.len()));
        }
        Ok(Self(secret))
    }

    /// The secret's bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for SealingSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingSecret(<redacted>)")
    }
}

struct SealingKey {
    id: String,
    cipher: Aes256Gcm,
}

impl SealingKey {
    fn derive(secret: &SealingSecret) -> Result<Self, SealError> {
        let secret = secret.expose();
        let mut key = [0u8; 32];
        hkdf::Hkdf::<Sha256>::new(Some(b"wxlogin"), secret)
            .expand(HKDF_INFO, &mut key)
            .map_err(|_| SealError::SecretTooShort(secret.len()))?;
        // The id names the key in each sealed value, so a rotation knows which key to use; it
        // is a hash of the derived key and tells nothing about it.
        let digest = Sha256::digest(key);
        let id = wxlogin_domain::to_hex(&digest[..4]);
        let cipher = Aes256Gcm::new_from_slice(&key).map_err(|_| SealError::Corrupt)?;
        Ok(Self { id, cipher })
    }
}

/// Seals secrets with AES-256-GCM under a key derived (HKDF-SHA256) from a server secret.
///
/// A sealed value is `v1.<key id>.<base64 of nonce and ciphertext>`, bound to the record it
/// belongs to (the associated data), so it cannot be moved to another row. To rotate, start the
/// servers with the new secret as current and the old one as previous; values sealed under the
/// old key stay readable, and new ones use the new key. Once every value sealed under the old key
/// has expired (the session lifetime), drop the previous secret.
pub struct SecretSealer {
    current: SealingKey,
    previous: Vec<SealingKey>,
}

impl std::fmt::Debug for SecretSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretSealer")
            .field("current", &self.current.id)
            .field(
                "previous",
                &self.previous.iter().map(|k| &k.id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl SecretSealer {
    /// A sealer whose key derives from `secret`.
    pub fn new(secret: &SealingSecret) -> Result<Self, SealError> {
        Ok(Self {
            current: SealingKey::derive(secret)?,
            previous: Vec::new(),
        })
    }

    /// Also opens values sealed under `secret`, for a rotation.
    pub fn with_previous(mut self, secret: &SealingSecret) -> Result<Self, SealError> {
        self.previous.push(SealingKey::derive(secret)?);
        Ok(self)
    }

    /// The id of the key new values are sealed under.
    pub fn key_id(&self) -> &str {
        &self.current.id
    }

    /// Seals `secret` for the record `record` (e.g. the session a session_key belongs to).
    pub fn seal(&self, secret: &str, record: &str) -> Result<String, SealError> {
        let nonce = Nonce::try_generate().map_err(|e| SealError::Random(e.to_string()))?;
        let sealed = self
            .current
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: secret.as_bytes(),
                    aad: &aad(&self.current.id, record),
                },
            )
            .map_err(|_| SealError::Corrupt)?;
        let mut bytes = Vec::with_capacity(NONCE_LEN + sealed.len());
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&sealed);
        Ok(format!(
            "{FORMAT}.{}.{}",
            self.current.id,
            STANDARD.encode(bytes)
        ))
    }

    /// Opens a value sealed for `record` by this sealer or one holding the same key.
    pub fn open(&self, sealed: &str, record: &str) -> Result<String, SealError> {
        let mut parts = sealed.splitn(3, '.');
        let (Some(FORMAT), Some(id), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(if sealed.is_empty() {
                SealError::UnknownKey(String::new())
            } else {
                SealError::Corrupt
            });
        };
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == id)
            .ok_or_else(|| SealError::UnknownKey(id.to_owned()))?;
        let bytes = STANDARD.decode(body).map_err(|_| SealError::Corrupt)?;
        if bytes.len() <= NONCE_LEN {
            return Err(SealError::Corrupt);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_from(nonce).map_err(|_| SealError::Corrupt)?;
        let plain = key
            .cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad: &aad(id, record),
                },
            )
            .map_err(|_| SealError::Corrupt)?;
        String::from_utf8(plain).map_err(|_| SealError::Corrupt)
    }
}

fn aad(key_id: &str, record: &str) -> Vec<u8> {
    format!("{FORMAT}.{key_id}.{record}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> SealingSecret {
        SealingSecret::new(*b"0123456789abcdef0123456789abcdef").expect("long enough")
    }

    fn other() -> SealingSecret {
        SealingSecret::new(*b"fedcba9876543210fedcba9876543210").expect("long enough")
    }

    #[test]
    fn a_sealed_value_opens_for_its_record_only() {
        let sealer = SecretSealer::new(&secret()).expect("sealer");
        let sealed = sealer
            .seal("tiihtNczf5v6AKRyjwEUhQ==", "user-1")
            .expect("seal");
        assert!(!sealed.contains("tiihtNczf5v6AKRyjwEUhQ"));
        assert!(sealed.starts_with(&format!("v1.{}.", sealer.key_id())));
        assert_eq!(
            sealer.open(&sealed, "user-1").as_deref(),
            Ok("tiihtNczf5v6AKRyjwEUhQ==")
        );
        assert_eq!(sealer.open(&sealed, "user-2"), Err(SealError::Corrupt));
    }

    #[test]
    fn each_seal_uses_a_fresh_nonce() {
        let sealer = SecretSealer::new(&secret()).expect("sealer");
        assert_ne!(
            sealer.seal("k", "r").expect("seal"),
            sealer.seal("k", "r").expect("seal")
        );
    }

    #[test]
    fn a_rotation_keeps_old_values_readable_and_seals_under_the_new_key() {
        let old = SecretSealer::new(&other()).expect("old");
        let sealed_before = old.seal("key", "r").expect("seal");
        let rotated = SecretSealer::new(&secret())
            .and_then(|s| s.with_previous(&other()))
            .expect("rotated");
        assert_eq!(rotated.open(&sealed_before, "r").as_deref(), Ok("key"));
        let sealed_after = rotated.seal("key", "r").expect("seal");
        assert_ne!(rotated.key_id(), old.key_id());
        assert!(sealed_after.contains(rotated.key_id()));
        let without_old = SecretSealer::new(&secret()).expect("new only");
        assert_eq!(
            without_old.open(&sealed_before, "r"),
            Err(SealError::UnknownKey(old.key_id().to_owned()))
        );
    }

    #[test]
    fn altered_or_foreign_values_are_refused_without_panicking() {
        let sealer = SecretSealer::new(&secret()).expect("sealer");
        let sealed = sealer.seal("key", "r").expect("seal");
        let mut flipped = sealed.clone().into_bytes();
        let last = flipped.len() - 3;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).expect("ascii");
        for bad in [
            "",
            "plaintext-session-key==",
            "v1",
            "v1..",
            "v2.x.y",
            &format!("v1.{}.", sealer.key_id()),
            &format!("v1.{}.!!!", sealer.key_id()),
            &format!("v1.{}.AAAA", sealer.key_id()),
            &flipped,
        ] {
            assert!(sealer.open(bad, "r").is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn short_secrets_are_refused() {
        assert_eq!(
            SealingSecret::new(*b"short").err(),
            Some(SealError::SecretTooShort(5))
        );
        assert!(!format!("{:?}", secret()).contains("0123"));
    }

    #[test]
    fn debug_shows_key_ids_only() {
        let sealer = SecretSealer::new(&secret()).expect("sealer");
        let shown = format!("{sealer:?}");
        assert!(shown.contains(sealer.key_id()));
        assert!(!shown.contains("0123456789abcdef"));
    }
}
