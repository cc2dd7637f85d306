//! Tokens as wxlogin mints them, and the forgeries an attacker would try.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwt_simple::prelude::{
    Claims, Duration, ECDSAP256KeyPairLike, ES256KeyPair, Ed25519KeyPair, EdDSAKeyPairLike,
    HeaderOptions, JWTClaims, UnixTimeStamp,
};
use serde::Serialize;

pub const ISSUER: &str = "wxlogin";
pub const AUDIENCE: &str = "orders";
pub const USER: &str = "u_7Hc2";
pub const APPID: &str = "wx0123456789abcdef";

#[derive(Serialize, Clone)]
pub struct WxClaims {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    pub appid: String,
}

/// A signing key of wxlogin's, with its kid.
pub enum Signer {
    Ed(Ed25519KeyPair),
    Es(ES256KeyPair),
}

impl Signer {
    pub fn ed25519(kid: &str) -> Self {
        Signer::Ed(Ed25519KeyPair::generate().with_key_id(kid))
    }

    pub fn es256(kid: &str) -> Self {
        Signer::Es(ES256KeyPair::generate().with_key_id(kid))
    }

    /// The public JWK, as the JWKS lists it (`alg`, `use: sig`, `kid`).
    pub fn jwk(&self) -> String {
        match self {
            Signer::Ed(key) => key.public_key().to_jwk(),
            Signer::Es(key) => key.public_key().to_jwk(),
        }
    }

    /// The raw public key bytes: what an alg-confusion attacker uses as an HMAC secret.
    pub fn public_key_bytes(&self) -> Vec<u8> {
        match self {
            Signer::Ed(key) => key.public_key().to_bytes(),
            Signer::Es(key) => key.public_key().to_bytes(),
        }
    }

    /// Signs with `typ: at+jwt`, as wxlogin does.
    pub fn sign(&self, claims: JWTClaims<WxClaims>) -> String {
        self.sign_typed(claims, Some("at+jwt"))
    }

    pub fn sign_typed(&self, claims: JWTClaims<WxClaims>, typ: Option<&str>) -> String {
        let header = HeaderOptions {
            signature_type: typ.map(str::to_owned),
            ..HeaderOptions::default()
        };
        match self {
            Signer::Ed(key) => key.sign_with_options(claims, &header),
            Signer::Es(key) => key.sign_with_options(claims, &header),
        }
        .expect("sign")
    }
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

fn at(secs: u64) -> UnixTimeStamp {
    Duration::from_secs(secs)
}

/// Claims of a live access token of session `sid`: issued now, valid two hours.
pub fn claims(sid: &str) -> JWTClaims<WxClaims> {
    claims_between(sid, now(), now() + 7200)
}

pub fn claims_between(sid: &str, iat: u64, exp: u64) -> JWTClaims<WxClaims> {
    let mut claims = Claims::with_custom_claims(
        WxClaims {
            sid: Some(sid.into()),
            appid: APPID.into(),
        },
        Duration::from_secs(0),
    )
    .with_issuer(ISSUER)
    .with_audience(AUDIENCE)
    .with_subject(USER);
    claims.issued_at = Some(at(iat));
    claims.invalid_before = Some(at(iat));
    claims.expires_at = Some(at(exp));
    claims
}

/// A token assembled by hand: any header, any payload, any signature bytes.
pub fn raw_token(header: &str, payload: &str, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

pub fn b64(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(text)
}

/// The payload of `token`, decoded, for forging variants of it.
pub fn payload_of(token: &str) -> String {
    let payload = token.split('.').nth(1).expect("a payload");
    String::from_utf8(URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("utf-8")
}
