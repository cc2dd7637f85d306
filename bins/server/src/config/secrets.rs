//! The secrets: `TOKEN_SECRET`, which signs tokens, and `SESSION_KEY_SECRET` (with
//! `SESSION_KEY_SECRET_PREVIOUS` during a rotation), which seals secrets at rest.

use wxlogin_token::MIN_KEY_LEN;
use wxlogin_user_store::{MIN_SECRET_LEN, SealingSecret};

use super::vars::Vars;

/// The key that signs tokens in dev mode. Public, so dev tokens are worthless anywhere else.
const DEV_TOKEN_SECRET: &str = "wxlogin dev mode token secret -- not for production";

/// `TOKEN_SECRET`, at least [`MIN_KEY_LEN`] bytes; dev mode's own in dev mode.
pub(super) fn token_secret(dev: bool, vars: &mut Vars<'_>) -> Vec<u8> {
    match vars.get("TOKEN_SECRET") {
        None if dev => DEV_TOKEN_SECRET.as_bytes().to_vec(),
        // Refused in dev mode already (a production setting).
        Some(_) if dev => Vec::new(),
        Some(s) if s.len() >= MIN_KEY_LEN => s.into_bytes(),
        Some(s) => {
            vars.problem(format!(
                "TOKEN_SECRET is {} bytes long; at least {MIN_KEY_LEN} are required",
                s.len()
            ));
            Vec::new()
        }
        None => {
            vars.problem(format!(
                "TOKEN_SECRET is required (at least {MIN_KEY_LEN} random bytes)"
            ));
            Vec::new()
        }
    }
}

/// The sealing secret named `name`, if set (never in dev mode): at least [`MIN_SECRET_LEN`]
/// bytes.
pub(super) fn sealing_secret(dev: bool, vars: &mut Vars<'_>, name: &str) -> Option<SealingSecret> {
    let secret = vars.get(name).filter(|_| !dev)?;
    let len = secret.len();
    match SealingSecret::new(secret.into_bytes()) {
        Ok(secret) => Some(secret),
        Err(_) => {
            vars.problem(format!(
                "{name} is {len} bytes long; at least {MIN_SECRET_LEN} are required"
            ));
            None
        }
    }
}
