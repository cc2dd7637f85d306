//! Refresh tokens: a session id, a counter, and an HMAC over both under a key derived from the
//! server's token secret. Nothing is stored per token: the session's row holds the counter of
//! its current token, and a refresh moves it on by one (the design of Supabase Auth's refresh
//! tokens; `docs/tokens.md` tells why).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use wxlogin_domain::{Cause, RefreshClaim, TokenError};

/// The format's name, first in every refresh token: a later format can be told apart.
const FORMAT: &str = "r1";
/// What the HKDF derives, so the token secret's other uses yield other keys.
const HKDF_INFO: &[u8] = b"wxlogin: refresh tokens, HMAC-SHA256, v1";
/// The highest counter a refresh token may carry: a refresh every second for 30,000 years.
/// Anything higher is made up, and would overflow where the counter is moved on.
const MAX_COUNTER: i64 = 1_000_000_000_000;

/// The longest refresh token looked at (the contract's bound; ours are about 100 characters).
pub const MAX_REFRESH_TOKEN_LEN: usize = 256;

/// The key refresh tokens are authenticated with.
#[derive(Clone)]
pub(crate) struct RefreshKey([u8; 32]);

impl RefreshKey {
    /// The key derived from `secret` (the token secret, at least 32 bytes).
    pub(crate) fn derive(secret: &[u8]) -> Result<Self, TokenError> {
        if secret.len() < crate::MIN_KEY_LEN {
            return Err(TokenError::KeyTooShort {
                actual: secret.len(),
                required: crate::MIN_KEY_LEN,
            });
        }
        let mut key = [0u8; 32];
        hkdf::Hkdf::<Sha256>::new(Some(b"wxlogin"), secret)
            .expand(HKDF_INFO, &mut key)
            .map_err(|_| TokenError::KeyTooShort {
                actual: secret.len(),
                required: crate::MIN_KEY_LEN,
            })?;
        Ok(Self(key))
    }

    fn mac(&self, session_id: &str, counter: i64) -> Hmac<Sha256> {
        // An HMAC key of 32 bytes is always accepted.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(FORMAT.as_bytes());
        mac.update(b".");
        mac.update(session_id.as_bytes());
        mac.update(b".");
        mac.update(counter.to_string().as_bytes());
        mac
    }

    /// `r1.<session id>.<counter>.<mac>`: the same claim always gives the same token.
    pub(crate) fn issue(&self, claim: &RefreshClaim) -> String {
        let tag = self
            .mac(&claim.session_id, claim.counter)
            .finalize()
            .into_bytes();
        format!(
            "{FORMAT}.{}.{}.{}",
            claim.session_id,
            claim.counter,
            URL_SAFE_NO_PAD.encode(tag)
        )
    }

    /// What a token names, if this key made it (the tag compared in constant time).
    pub(crate) fn verify(&self, token: &str) -> Result<RefreshClaim, TokenError> {
        let invalid = |why: &'static str| TokenError::Invalid(Cause::msg(why));
        if token.len() > MAX_REFRESH_TOKEN_LEN {
            return Err(invalid("the refresh token is too long"));
        }
        let mut parts = token.split('.');
        let (Some(FORMAT), Some(session_id), Some(counter), Some(tag), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(invalid("not a refresh token"));
        };
        // Digits only: `+1` or `01` would name the same counter with another text.
        let counter: i64 = counter
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| counter.parse().ok())
            .flatten()
            .filter(|n: &i64| n.to_string() == counter && *n <= MAX_COUNTER)
            .ok_or_else(|| invalid("the refresh token's counter is not a number"))?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| invalid("the refresh token's tag is not base64url"))?;
        self.mac(session_id, counter)
            .verify_slice(&tag)
            .map_err(|_| invalid("the refresh token was not made by this server"))?;
        Ok(RefreshClaim {
            session_id: session_id.to_owned(),
            counter,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> RefreshKey {
        RefreshKey::derive(b"0123456789abcdef0123456789abcdef").expect("long enough")
    }

    fn claim(counter: i64) -> RefreshClaim {
        RefreshClaim {
            session_id: "019ab3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b".into(),
            counter,
        }
    }

    #[test]
    fn a_token_names_its_session_and_counter_and_is_the_same_each_time() {
        let token = key().issue(&claim(7));
        assert_eq!(token, key().issue(&claim(7)));
        assert!(token.len() <= MAX_REFRESH_TOKEN_LEN);
        assert_eq!(key().verify(&token), Ok(claim(7)));
    }

    #[test]
    fn another_counter_or_session_or_key_does_not_verify() {
        let token = key().issue(&claim(7));
        let other_counter = token.replacen(".7.", ".8.", 1);
        assert!(key().verify(&other_counter).is_err());
        let other_session = token.replacen("019ab3c4", "019ab3c5", 1);
        assert!(key().verify(&other_session).is_err());
        let other_key = RefreshKey::derive(b"another secret of thirty-two bytes!!").expect("long");
        assert!(other_key.verify(&token).is_err());
    }

    #[test]
    fn malformed_tokens_are_invalid_and_never_panic() {
        let token = key().issue(&claim(3));
        for bad in [
            String::new(),
            "r1".into(),
            "r1...".into(),
            token.replacen(".3.", ".+3.", 1),
            token.replacen(".3.", ".03.", 1),
            token.replacen(".3.", ".-3.", 1),
            token.replacen(".3.", ".99999999999999999999.", 1),
            key().issue(&claim(MAX_COUNTER + 1)),
            format!("{token}.extra"),
            token.replacen("r1.", "r2.", 1),
            "x".repeat(MAX_REFRESH_TOKEN_LEN + 1),
            "r1.s.1.!!!".into(),
        ] {
            assert!(key().verify(&bad).is_err(), "{bad:?}");
        }
    }
}
