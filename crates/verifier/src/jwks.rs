//! Reading a JWKS into the public keys it publishes, by kid.

use std::collections::HashMap;
use std::sync::Arc;

use jwt_simple::prelude::{
    ECDSAP256PublicKeyLike, ES256PublicKey, Ed25519PublicKey, EdDSAPublicKeyLike, JWTClaims,
    VerificationOptions,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::FetchError;

/// The JWS `alg` of wxlogin's Ed25519 keys.
pub(crate) const EDDSA: &str = "EdDSA";
/// The JWS `alg` of wxlogin's P-256 keys.
pub(crate) const ES256: &str = "ES256";

/// One published key, of one of the two algorithms wxlogin signs with.
pub(crate) enum PublicKey {
    Ed25519(Ed25519PublicKey),
    Es256(ES256PublicKey),
}

impl PublicKey {
    /// The only `alg` a token signed by this key may name.
    pub(crate) fn alg(&self) -> &'static str {
        match self {
            PublicKey::Ed25519(_) => EDDSA,
            PublicKey::Es256(_) => ES256,
        }
    }

    pub(crate) fn verify<C: DeserializeOwned>(
        &self,
        token: &str,
        options: VerificationOptions,
    ) -> Result<JWTClaims<C>, jwt_simple::Error> {
        match self {
            PublicKey::Ed25519(key) => key.verify_token(token, Some(options)),
            PublicKey::Es256(key) => key.verify_token(token, Some(options)),
        }
    }
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<serde_json::Value>,
}

/// The usable keys of a JWKS document, by kid.
///
/// A key this verifier cannot use (another algorithm, no kid, a private or malformed member)
/// is skipped rather than failing the whole set: wxlogin may publish more kinds later. The
/// JWK itself is checked by jwt-simple's strict import (kty/crv/alg/use consistent, no private
/// member), not by hand.
pub(crate) fn parse(body: &[u8]) -> Result<HashMap<String, Arc<PublicKey>>, FetchError> {
    let jwks: Jwks = serde_json::from_slice(body).map_err(FetchError::Json)?;
    let mut keys = HashMap::with_capacity(jwks.keys.len());
    for jwk in jwks.keys {
        let Some(kid) = jwk.get("kid").and_then(|kid| kid.as_str()) else {
            log::warn!("JWKS: skipping a key without a kid");
            continue;
        };
        let kid = kid.to_owned();
        let key = match (alg_of(&jwk), jwk.to_string()) {
            (Some(EDDSA), text) => Ed25519PublicKey::from_jwk(&text).map(PublicKey::Ed25519),
            (Some(ES256), text) => ES256PublicKey::from_jwk(&text).map(PublicKey::Es256),
            _ => {
                log::debug!("JWKS: skipping key {kid:?} of an algorithm not used by wxlogin");
                continue;
            }
        };
        match key {
            Ok(key) => {
                if keys.insert(kid.clone(), Arc::new(key)).is_some() {
                    // Two keys under one kid: which one signed a token is ambiguous, so
                    // neither is trusted.
                    log::warn!("JWKS: two keys share kid {kid:?}; ignoring both");
                    keys.remove(&kid);
                }
            }
            Err(e) => log::warn!("JWKS: skipping key {kid:?}: {e}"),
        }
    }
    if keys.is_empty() {
        return Err(FetchError::NoUsableKey);
    }
    Ok(keys)
}

/// The key's `alg`, or the one its `kty`/`crv` imply when it names none (RFC 7517 makes
/// `alg` optional).
fn alg_of(jwk: &serde_json::Value) -> Option<&str> {
    if let Some(alg) = jwk.get("alg") {
        return alg.as_str();
    }
    let field = |name: &str| jwk.get(name).and_then(|v| v.as_str());
    match (field("kty"), field("crv")) {
        (Some("OKP"), Some("Ed25519")) => Some(EDDSA),
        (Some("EC"), Some("P-256")) => Some(ES256),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use jwt_simple::prelude::{ES256KeyPair, Ed25519KeyPair};

    use super::*;

    fn jwks(keys: &[String]) -> Vec<u8> {
        format!(r#"{{"keys":[{}]}}"#, keys.join(",")).into_bytes()
    }

    #[test]
    fn ed25519_and_es256_keys_are_read_by_kid() {
        let ed = Ed25519KeyPair::generate().public_key().with_key_id("ed-1");
        let es = ES256KeyPair::generate().public_key().with_key_id("es-1");

        let keys = parse(&jwks(&[ed.to_jwk(), es.to_jwk()])).unwrap();

        assert_eq!(keys.len(), 2);
        assert_eq!(keys["ed-1"].alg(), EDDSA);
        assert_eq!(keys["es-1"].alg(), ES256);
    }

    #[test]
    fn keys_without_kid_of_other_kinds_or_private_are_skipped() {
        let good = Ed25519KeyPair::generate().public_key().with_key_id("good");
        let no_kid = Ed25519KeyPair::generate().public_key().to_jwk();
        let rsa = r#"{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"rsa","alg":"RS256"}"#.to_owned();
        let symmetric = r#"{"kty":"oct","k":"c2VjcmV0","kid":"hs","alg":"HS256"}"#.to_owned();
        let private = Ed25519KeyPair::generate().with_key_id("private").to_jwk();

        let keys = parse(&jwks(&[good.to_jwk(), no_kid, rsa, symmetric, private])).unwrap();

        assert_eq!(keys.keys().collect::<Vec<_>>(), vec!["good"]);
    }

    #[test]
    fn two_keys_under_one_kid_are_both_ignored() {
        let a = Ed25519KeyPair::generate().public_key().with_key_id("same");
        let b = Ed25519KeyPair::generate().public_key().with_key_id("same");
        let c = Ed25519KeyPair::generate().public_key().with_key_id("other");

        let keys = parse(&jwks(&[a.to_jwk(), b.to_jwk(), c.to_jwk()])).unwrap();

        assert!(!keys.contains_key("same"));
        assert!(keys.contains_key("other"));
    }

    #[test]
    fn a_jwks_with_no_usable_key_is_an_error_not_an_empty_set() {
        assert!(matches!(
            parse(br#"{"keys":[]}"#),
            Err(FetchError::NoUsableKey)
        ));
        assert!(matches!(parse(b"<html>"), Err(FetchError::Json(_))));
    }
}
