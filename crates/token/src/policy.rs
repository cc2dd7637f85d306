//! When keys are made, sign, retire and go: pure functions of the stored keys and the time, so
//! that every instance reading the same keys decides the same.

use crate::claims::MAX_CLOCK_SKEW_SECS;
use crate::keys::SigningAlgorithm;

/// How long verifiers may cache the published key set (`Cache-Control: max-age` of
/// `/.well-known/jwks.json`).
pub const JWKS_MAX_AGE_SECS: i64 = 600;

/// How often every instance reads the stored keys again: how long a key made elsewhere may be
/// unknown here.
pub const KEY_SYNC_SECS: i64 = 30;

/// How long before it signs a new key is published: a verifier's cached key set, and every
/// instance's copy, know it by then (one cache lifetime, one sync, one clock skew).
pub const PUBLISH_LEAD_SECS: i64 = JWKS_MAX_AGE_SECS + KEY_SYNC_SECS + MAX_CLOCK_SKEW_SECS as i64;

// A key must be published at least one cache lifetime before it signs (the contract's rule).
const _: () = assert!(PUBLISH_LEAD_SECS >= JWKS_MAX_AGE_SECS);

/// What the keys are, and how long they and their tokens live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPolicy {
    /// The algorithm new keys use.
    pub algorithm: SigningAlgorithm,
    /// How long a key signs before the next replaces it, in seconds
    /// (`TOKEN_KEY_ROTATION_DAYS`).
    pub rotation_secs: i64,
    /// The longest an access token lives, in seconds (`ACCESS_TOKEN_TTL_SECS`): how long a
    /// retired key stays published.
    pub token_lifetime_secs: i64,
    /// Whether keys are made at all (`false` with `TOKEN_ALG=HS256`: stored keys still verify
    /// the tokens they signed, and none is made).
    pub make_keys: bool,
}

/// The part of a key the policy looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timing {
    pub(crate) generation: i64,
    pub(crate) signs_from: i64,
    pub(crate) algorithm: SigningAlgorithm,
}

/// Where a key stands at some moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Published, not signing yet.
    Pending,
    /// Signing.
    Active,
    /// Replaced, published while tokens it signed may live.
    Retired,
    /// No token it signed can still live: no longer published (kept in the store).
    Expired,
}

impl KeyState {
    /// Its name, as `keys list` shows it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Retired => "retired",
            Self::Expired => "expired",
        }
    }
}

/// Which key signs at `now`: the latest generation that has begun to sign.
pub(crate) fn signer(keys: &[Timing], now: i64) -> Option<usize> {
    keys.iter()
        .enumerate()
        .filter(|(_, k)| k.signs_from <= now)
        .max_by_key(|(_, k)| (k.generation, k.signs_from))
        .map(|(i, _)| i)
}

/// When the key at `index` stopped signing (a later generation began to), if it has.
pub(crate) fn retired_at(keys: &[Timing], index: usize, now: i64) -> Option<i64> {
    let key = keys[index];
    keys.iter()
        .filter(|k| k.generation > key.generation && k.signs_from <= now)
        .map(|k| k.signs_from.max(key.signs_from))
        .min()
}

impl KeyPolicy {
    /// The last moment a token of a key retired at `retired_at` can live.
    pub(crate) fn last_token_of(&self, retired_at: i64) -> i64 {
        retired_at
            .saturating_add(self.token_lifetime_secs)
            .saturating_add(MAX_CLOCK_SKEW_SECS as i64)
    }

    /// The state of the key at `index` at `now`.
    pub(crate) fn state(&self, keys: &[Timing], index: usize, now: i64) -> KeyState {
        if keys[index].signs_from > now {
            return KeyState::Pending;
        }
        match retired_at(keys, index, now) {
            None => KeyState::Active,
            Some(at) if now <= self.last_token_of(at) => KeyState::Retired,
            Some(_) => KeyState::Expired,
        }
    }

    /// When a new key should begin to sign, if one should be made at `now`: at once when there
    /// is none (nothing is cached anywhere yet); a publication lead from now when the newest
    /// key is due for rotation or of another algorithm than the configured one; never while
    /// a newer key is pending.
    pub(crate) fn next_key(&self, keys: &[Timing], now: i64) -> Option<i64> {
        if !self.make_keys {
            return None;
        }
        let Some(newest) = keys.iter().max_by_key(|k| k.generation) else {
            return Some(now);
        };
        if newest.signs_from > now {
            return None;
        }
        let due = newest
            .signs_from
            .saturating_add(self.rotation_secs)
            .saturating_sub(PUBLISH_LEAD_SECS);
        (now >= due || newest.algorithm != self.algorithm).then(|| now + PUBLISH_LEAD_SECS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    fn policy() -> KeyPolicy {
        KeyPolicy {
            algorithm: SigningAlgorithm::EdDsa,
            rotation_secs: 30 * DAY,
            token_lifetime_secs: 7200,
            make_keys: true,
        }
    }

    fn key(generation: i64, signs_from: i64) -> Timing {
        Timing {
            generation,
            signs_from,
            algorithm: SigningAlgorithm::EdDsa,
        }
    }

    #[test]
    fn the_first_key_signs_at_once() {
        assert_eq!(policy().next_key(&[], 1000), Some(1000));
    }

    #[test]
    fn a_rotation_is_published_a_cache_lifetime_before_it_signs() {
        let keys = [key(1, 0)];
        let due = 30 * DAY - PUBLISH_LEAD_SECS;
        assert_eq!(policy().next_key(&keys, due - 1), None);
        assert_eq!(policy().next_key(&keys, due), Some(due + PUBLISH_LEAD_SECS));
    }

    #[test]
    fn nothing_is_made_while_a_key_is_pending_or_when_keys_are_not_made() {
        let keys = [key(1, 0), key(2, 40 * DAY)];
        assert_eq!(policy().next_key(&keys, 39 * DAY), None);
        let off = KeyPolicy {
            make_keys: false,
            ..policy()
        };
        assert_eq!(off.next_key(&[], 0), None);
    }

    #[test]
    fn another_configured_algorithm_brings_a_new_key_after_the_lead() {
        let es256 = KeyPolicy {
            algorithm: SigningAlgorithm::Es256,
            ..policy()
        };
        assert_eq!(
            es256.next_key(&[key(1, 0)], 10),
            Some(10 + PUBLISH_LEAD_SECS)
        );
    }

    #[test]
    fn a_key_is_pending_then_active_then_retired_while_its_tokens_live_then_expired() {
        let keys = [key(1, 0), key(2, 1000)];
        let p = policy();
        assert_eq!(p.state(&keys, 1, 999), KeyState::Pending);
        assert_eq!(signer(&keys, 999), Some(0));
        assert_eq!(p.state(&keys, 0, 999), KeyState::Active);
        assert_eq!(signer(&keys, 1000), Some(1));
        assert_eq!(p.state(&keys, 1, 1000), KeyState::Active);
        let last = 1000 + 7200 + MAX_CLOCK_SKEW_SECS as i64;
        assert_eq!(p.state(&keys, 0, last), KeyState::Retired);
        assert_eq!(p.state(&keys, 0, last + 1), KeyState::Expired);
        assert_eq!(p.state(&keys, 1, last + 1), KeyState::Active);
    }
}
