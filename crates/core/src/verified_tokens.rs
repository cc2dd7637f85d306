//! Access tokens whose signature was checked, remembered by a digest of their exact text: an
//! Ed25519 or ES256 verification costs several times the rest of an authenticated request, and
//! a client sends the same token for its whole life.
//!
//! Only the signature's verdict is remembered: the expiry is checked on every hit (an entry
//! never outlives its token's `exp`), and the session behind it is checked by the caller as
//! for any token. A token that fails verification is not remembered, so garbage cannot fill
//! the cache; the budget is bytes, shared out by `quick_cache` as the session cache's is.

use quick_cache::Weighter;
use quick_cache::sync::Cache;
use sha2::{Digest, Sha256};
use wxlogin_domain::{SessionToken, TokenCodec, TokenError};

/// The memory the cache may hold when none is configured: 8 MiB, about 40,000 tokens.
pub(crate) const DEFAULT_BYTES: u64 = 8 * 1024 * 1024;

/// How long a verdict is trusted before the token is verified again, whatever its `exp`: a
/// key retired or left out since, or the end of the window in which v2 tokens are taken, then
/// holds for tokens verified before it too.
const TRUSTED_FOR_SECS: i64 = 300;

/// What an entry costs besides its strings: the digest, the value's fields and allocations,
/// the table's slot, malloc's overhead (of the order the session cache measures for its own).
const ENTRY_BYTES: u64 = 160;

/// The first half of a SHA-256 of the token: a second token with the same digest would take a
/// second preimage search of 2^128 steps.
type TokenDigest = [u8; 16];

#[derive(Clone)]
struct ByBytes;

/// A verdict: what the token says, and until when it is trusted without verifying it again.
#[derive(Clone)]
struct Verdict {
    token: SessionToken,
    trusted_until: i64,
}

impl Weighter<TokenDigest, Verdict> for ByBytes {
    fn weight(&self, _: &TokenDigest, verdict: &Verdict) -> u64 {
        let token = &verdict.token;
        ENTRY_BYTES + (token.user_id.len() + token.session_id.len() + token.appid.len()) as u64
    }
}

/// Verified tokens, by digest; off with a budget of zero.
pub(crate) struct VerifiedTokens {
    table: Option<Cache<TokenDigest, Verdict, ByBytes>>,
}

impl VerifiedTokens {
    pub(crate) fn new(bytes: u64) -> Self {
        let table = (bytes > 0).then(|| {
            let items = usize::try_from(bytes / (ENTRY_BYTES + 100)).unwrap_or(usize::MAX);
            Cache::with_weighter(items.max(16), bytes, ByBytes)
        });
        Self { table }
    }

    /// What `token` says, verified by `codec` or remembered from an earlier verification, and
    /// live at `now`.
    pub(crate) fn verify(
        &self,
        codec: &dyn TokenCodec,
        token: &str,
        now: i64,
    ) -> Result<SessionToken, TokenError> {
        let Some(table) = &self.table else {
            return codec.verify(token);
        };
        let digest: TokenDigest = {
            let full = Sha256::digest(token.as_bytes());
            let mut half = [0u8; 16];
            half.copy_from_slice(&full[..16]);
            half
        };
        if let Some(known) = table.get(&digest) {
            if now > known.token.expires_at {
                table.remove(&digest);
                return Err(TokenError::Expired);
            }
            if now <= known.trusted_until {
                return Ok(known.token);
            }
        }
        let verified = codec.verify(token)?;
        table.insert(
            digest,
            Verdict {
                token: verified.clone(),
                trusted_until: now.saturating_add(TRUSTED_FOR_SECS),
            },
        );
        Ok(verified)
    }
}

#[cfg(test)]
mod tests {
    use wxlogin_domain::MockTokenCodec;

    use super::*;

    fn claims(expires_at: i64) -> SessionToken {
        SessionToken {
            user_id: "u".into(),
            session_id: "s".into(),
            appid: "wx".into(),
            expires_at,
        }
    }

    #[test]
    fn a_token_is_verified_once_and_remembered_until_it_expires() {
        let mut codec = MockTokenCodec::new();
        codec
            .expect_verify()
            .times(1)
            .returning(|_| Ok(claims(100)));
        let cache = VerifiedTokens::new(DEFAULT_BYTES);
        assert_eq!(cache.verify(&codec, "t", 50), Ok(claims(100)));
        assert_eq!(cache.verify(&codec, "t", 100), Ok(claims(100)));
        assert_eq!(cache.verify(&codec, "t", 101), Err(TokenError::Expired));
    }

    #[test]
    fn a_verdict_is_trusted_for_minutes_not_for_the_tokens_whole_life() {
        let mut codec = MockTokenCodec::new();
        let mut calls = mockall::Sequence::new();
        codec
            .expect_verify()
            .times(1)
            .in_sequence(&mut calls)
            .returning(|_| Ok(claims(10_000)));
        // Its key was retired meanwhile.
        codec
            .expect_verify()
            .times(1)
            .in_sequence(&mut calls)
            .returning(|_| Err(TokenError::Invalid(wxlogin_domain::Cause::msg("retired"))));
        let cache = VerifiedTokens::new(DEFAULT_BYTES);
        assert!(cache.verify(&codec, "t", 0).is_ok());
        assert!(cache.verify(&codec, "t", TRUSTED_FOR_SECS).is_ok());
        assert!(cache.verify(&codec, "t", TRUSTED_FOR_SECS + 1).is_err());
    }

    #[test]
    fn a_refused_token_is_asked_again_and_another_text_is_another_token() {
        let mut codec = MockTokenCodec::new();
        codec
            .expect_verify()
            .withf(|t| t == "bad")
            .times(2)
            .returning(|_| Err(TokenError::Invalid(wxlogin_domain::Cause::msg("forged"))));
        codec
            .expect_verify()
            .withf(|t| t == "good")
            .times(1)
            .returning(|_| Ok(claims(100)));
        let cache = VerifiedTokens::new(DEFAULT_BYTES);
        assert!(cache.verify(&codec, "bad", 1).is_err());
        assert!(cache.verify(&codec, "bad", 1).is_err());
        assert!(cache.verify(&codec, "good", 1).is_ok());
        assert!(cache.verify(&codec, "good", 1).is_ok());
    }

    #[test]
    fn with_no_budget_every_token_is_verified() {
        let mut codec = MockTokenCodec::new();
        codec
            .expect_verify()
            .times(2)
            .returning(|_| Ok(claims(100)));
        let cache = VerifiedTokens::new(0);
        assert!(cache.verify(&codec, "t", 1).is_ok());
        assert!(cache.verify(&codec, "t", 1).is_ok());
    }
}
