//! One asymmetric signing key: made, restored from the store, signing, verifying, and
//! published as a JWK.

use jwt_simple::prelude::{
    ECDSAP256KeyPairLike, ECDSAP256PublicKeyLike, ES256KeyPair, ES256PublicKey, Ed25519KeyPair,
    Ed25519PublicKey, EdDSAKeyPairLike, EdDSAPublicKeyLike, JWTClaims,
};
use wxlogin_domain::{Cause, PrivateKey, StoredSigningKey, TokenError};

use crate::TokenConfig;
use crate::claims::{self, SessionClaims};

/// The asymmetric algorithms tokens may be signed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningAlgorithm {
    /// Ed25519 (`EdDSA`): the default.
    EdDsa,
    /// ECDSA over P-256 with SHA-256 (`ES256`), for verifiers that lack EdDSA.
    Es256,
}

impl SigningAlgorithm {
    /// Its JWS name.
    pub fn name(self) -> &'static str {
        match self {
            Self::EdDsa => "EdDSA",
            Self::Es256 => "ES256",
        }
    }

    /// The algorithm of a JWS name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "EdDSA" => Some(Self::EdDsa),
            "ES256" => Some(Self::Es256),
            _ => None,
        }
    }
}

enum Pair {
    EdDsa(Ed25519KeyPair),
    Es256(ES256KeyPair),
}

enum Public {
    EdDsa(Ed25519PublicKey),
    Es256(ES256PublicKey),
}

/// A key ready to sign and verify.
pub(crate) struct SigningKey {
    pub(crate) kid: String,
    pub(crate) generation: i64,
    pub(crate) algorithm: SigningAlgorithm,
    pub(crate) created_at: i64,
    pub(crate) signs_from: i64,
    pair: Pair,
    public: Public,
    /// The public key as published (RFC 7517), never its private half.
    pub(crate) jwk: serde_json::Value,
}

impl SigningKey {
    /// A new key of `algorithm`, to be stored as generation `generation`.
    pub(crate) fn generate(
        algorithm: SigningAlgorithm,
        generation: i64,
        created_at: i64,
        signs_from: i64,
    ) -> Result<(Self, StoredSigningKey), TokenError> {
        let kid = new_kid();
        let private = match algorithm {
            SigningAlgorithm::EdDsa => Ed25519KeyPair::generate().to_bytes(),
            SigningAlgorithm::Es256 => ES256KeyPair::generate().to_bytes(),
        };
        let stored = StoredSigningKey {
            kid,
            generation,
            algorithm: algorithm.name().to_owned(),
            private_key: PrivateKey::new(base64_encode(&private)),
            created_at,
            signs_from,
        };
        Ok((Self::restore(&stored)?, stored))
    }

    /// The key a stored one is.
    pub(crate) fn restore(stored: &StoredSigningKey) -> Result<Self, TokenError> {
        let bad = |why: String| TokenError::Signing(Cause::msg(why));
        let algorithm = SigningAlgorithm::from_name(&stored.algorithm)
            .ok_or_else(|| bad(format!("key {} has an unknown algorithm", stored.kid)))?;
        let raw = base64_decode(stored.private_key.expose())
            .ok_or_else(|| bad(format!("key {} is not base64", stored.kid)))?;
        let unreadable = |_| bad(format!("key {} cannot be read", stored.kid));
        let (pair, public) = match algorithm {
            SigningAlgorithm::EdDsa => {
                let pair = Ed25519KeyPair::from_bytes(&raw)
                    .map_err(unreadable)?
                    .with_key_id(&stored.kid);
                let public = pair.public_key().with_key_id(&stored.kid);
                (Pair::EdDsa(pair), Public::EdDsa(public))
            }
            SigningAlgorithm::Es256 => {
                let pair = ES256KeyPair::from_bytes(&raw)
                    .map_err(unreadable)?
                    .with_key_id(&stored.kid);
                let public = pair.public_key().with_key_id(&stored.kid);
                (Pair::Es256(pair), Public::Es256(public))
            }
        };
        let jwk = match &public {
            Public::EdDsa(key) => key.to_jwk(),
            Public::Es256(key) => key.to_jwk(),
        };
        let mut jwk: serde_json::Value = serde_json::from_str(&jwk)
            .map_err(|_| bad(format!("key {} has no JWK", stored.kid)))?;
        if let Some(members) = jwk.as_object_mut() {
            // Belt and braces: a public JWK never carries `d`.
            members.remove("d");
            members.insert("alg".into(), algorithm.name().into());
            members.insert("use".into(), "sig".into());
            members.insert("kid".into(), stored.kid.clone().into());
        }
        Ok(Self {
            kid: stored.kid.clone(),
            generation: stored.generation,
            algorithm,
            created_at: stored.created_at,
            signs_from: stored.signs_from,
            pair,
            public,
            jwk,
        })
    }

    pub(crate) fn sign(&self, claims: JWTClaims<SessionClaims>) -> Result<String, TokenError> {
        let header = claims::header();
        match &self.pair {
            Pair::EdDsa(pair) => pair.sign_with_options(claims, &header),
            Pair::Es256(pair) => pair.sign_with_options(claims, &header),
        }
        .map_err(|e| TokenError::Signing(Cause::boxed(e.into())))
    }

    /// The token's claims if this key signed it, expiry not yet checked exactly.
    pub(crate) fn check(
        &self,
        token: &str,
        config: &TokenConfig,
        now: i64,
    ) -> Result<JWTClaims<SessionClaims>, TokenError> {
        let mut options = claims::verification_options(config, now);
        options.required_key_id = Some(self.kid.clone());
        match &self.public {
            Public::EdDsa(key) => key.verify_token::<SessionClaims>(token, Some(options)),
            Public::Es256(key) => key.verify_token::<SessionClaims>(token, Some(options)),
        }
        .map_err(claims::refused)
    }
}

/// A random key id (a UUID v4's 122 random bits): it names the key and tells nothing about it.
fn new_kid() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()
}
