//! Standard Webhooks signatures (<https://www.standardwebhooks.com/>): an HMAC-SHA256 over
//! `{webhook-id}.{webhook-timestamp}.{body}`, sent as `v1,<base64 of the MAC>`.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The prefix that marks a Standard Webhooks signing secret.
const PREFIX: &str = "whsec_";

/// The key lengths the spec allows, in bytes after base64 decoding: shorter keys are guessable,
/// and receivers' libraries may refuse longer ones.
const KEY_BYTES: std::ops::RangeInclusive<usize> = 24..=64;

/// A webhook signing secret, written `whsec_<standard base64 of 24 to 64 bytes>`.
///
/// `Debug` prints only the type name, so an endpoint can be logged without leaking its key.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    key: Vec<u8>,
}

/// Why a signing secret was refused. Never contains the secret itself.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    /// The text does not start with `whsec_`.
    #[error("a webhook secret must start with `whsec_`")]
    MissingPrefix,
    /// What follows `whsec_` is not standard (padded) base64.
    #[error("a webhook secret must be `whsec_` followed by standard base64")]
    NotBase64,
    /// The decoded key is outside the spec's 24 to 64 bytes.
    #[error("a webhook secret must decode to 24 to 64 bytes, this one has {bytes}")]
    WrongLength {
        /// The decoded key's length.
        bytes: usize,
    },
}

impl Secret {
    /// Parses `whsec_<base64>`, refusing any other form and keys outside 24 to 64 bytes.
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let encoded = text
            .strip_prefix(PREFIX)
            .ok_or(SecretError::MissingPrefix)?;
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| SecretError::NotBase64)?;
        if !KEY_BYTES.contains(&key.len()) {
            return Err(SecretError::WrongLength { bytes: key.len() });
        }
        Ok(Self { key })
    }
}

impl FromStr for Secret {
    type Err = SecretError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// The `webhook-signature` header value for one delivery: `v1,<standard base64 of
/// HMAC-SHA256(key, "{msg_id}.{timestamp}.{body}")>`.
///
/// `timestamp` is the `webhook-timestamp` header's value, in seconds since the Unix epoch; the
/// receiver checks both, so the same body cannot be replayed under another id or time.
pub fn sign(secret: &Secret, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&secret.key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    // The test vector of the Standard Webhooks spec and of its reference libraries.
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TIMESTAMP: i64 = 1614265330;
    const SPEC_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SPEC_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn signing_the_spec_vector_gives_the_spec_signature() {
        let secret = Secret::parse(SPEC_SECRET).unwrap();

        let signature = sign(&secret, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY);

        assert_eq!(signature, SPEC_SIGNATURE);
    }

    #[test]
    fn any_change_to_id_timestamp_or_body_changes_the_signature() {
        let secret = Secret::parse(SPEC_SECRET).unwrap();

        assert_ne!(
            sign(&secret, "msg_other", SPEC_TIMESTAMP, SPEC_BODY),
            SPEC_SIGNATURE
        );
        assert_ne!(
            sign(&secret, SPEC_ID, SPEC_TIMESTAMP + 1, SPEC_BODY),
            SPEC_SIGNATURE
        );
        assert_ne!(
            sign(&secret, SPEC_ID, SPEC_TIMESTAMP, b"{}"),
            SPEC_SIGNATURE
        );
    }

    #[test]
    fn a_secret_without_the_whsec_prefix_is_refused() {
        assert_eq!(
            Secret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            Err(SecretError::MissingPrefix)
        );
    }

    #[test]
    fn a_secret_that_is_not_base64_is_refused() {
        assert_eq!(
            Secret::parse("whsec_not base64 at all!!"),
            Err(SecretError::NotBase64)
        );
    }

    #[test]
    fn keys_shorter_than_24_or_longer_than_64_bytes_are_refused() {
        let short = format!("whsec_{}", STANDARD.encode([7u8; 23]));
        let long = format!("whsec_{}", STANDARD.encode([7u8; 65]));

        assert_eq!(
            Secret::parse(&short),
            Err(SecretError::WrongLength { bytes: 23 })
        );
        assert_eq!(
            Secret::parse(&long),
            Err(SecretError::WrongLength { bytes: 65 })
        );
        assert!(Secret::parse(&format!("whsec_{}", STANDARD.encode([7u8; 24]))).is_ok());
        assert!(Secret::parse(&format!("whsec_{}", STANDARD.encode([7u8; 64]))).is_ok());
    }

    #[test]
    fn debug_never_prints_the_key() {
        let secret = Secret::parse(SPEC_SECRET).unwrap();

        let shown = format!("{secret:?}");

        assert_eq!(shown, "Secret(..)");
        assert!(!shown.contains("MfKQ9r8G"));
    }
}
