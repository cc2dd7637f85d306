//! The pushes accepted lately, so that one sent again (WeChat retrying, or someone replaying a
//! URL they saw) is answered `success` and applied no second time.
//!
//! A push is remembered by its signature, timestamp and nonce for as long as its timestamp is
//! inside the window: past it the push is refused as stale anyway. Only pushes whose signature
//! checked out are remembered, and only WeChat (holding the app's Token) can make new ones, so
//! the memory grows with WeChat's push rate, not an attacker's; it is bounded all the same.
//! Another instance does not share this memory: there a replay is harmless because an event
//! changes data only when it is newer than the data (see `push.rs`).

use std::collections::{HashSet, VecDeque};
use std::sync::{Mutex, PoisonError};

/// At most this many pushes are remembered; past it the oldest are forgotten (a few hundred
/// bytes each). WeChat sends one per authorization change, far fewer than this in 5 minutes.
const CAPACITY: usize = 16 * 1024;

/// What identifies one push: its app, signature, timestamp and nonce.
type PushKey = (String, String, String, String);

#[derive(Default)]
struct Seen {
    keys: HashSet<PushKey>,
    /// In the order they were accepted, with the timestamp they carried: the oldest go first.
    order: VecDeque<(i64, PushKey)>,
}

/// The pushes accepted within the timestamp window.
pub(crate) struct SeenPushes {
    window_secs: i64,
    seen: Mutex<Seen>,
}

impl SeenPushes {
    pub(crate) fn new(window_secs: i64) -> Self {
        Self {
            window_secs,
            seen: Mutex::default(),
        }
    }

    /// Records the push (`appid`, `signature`, `timestamp`, `nonce`) sent at `sent_at`;
    /// `false` if it was recorded already (a replay). `now` sweeps what left the window.
    pub(crate) fn first_time(
        &self,
        appid: &str,
        signature: &str,
        timestamp: &str,
        nonce: &str,
        sent_at: i64,
        now: i64,
    ) -> bool {
        let key: PushKey = (
            appid.to_owned(),
            signature.to_owned(),
            timestamp.to_owned(),
            nonce.to_owned(),
        );
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some((at, _)) = seen.order.front() {
            // Kept while a copy could still be inside the window, whichever side of now.
            let expired = now.saturating_sub(*at) > self.window_secs;
            if !expired && seen.order.len() < CAPACITY {
                break;
            }
            if let Some((_, old)) = seen.order.pop_front() {
                seen.keys.remove(&old);
            }
        }
        if seen.keys.contains(&key) {
            return false;
        }
        seen.keys.insert(key.clone());
        seen.order.push_back((sent_at, key));
        true
    }

    /// Forgets a push recorded by [`Self::first_time`] that could not be applied, so that the
    /// copy WeChat sends again is. (Its entry in the order goes with the window.)
    pub(crate) fn forget(&self, appid: &str, signature: &str, timestamp: &str, nonce: &str) {
        let key: PushKey = (
            appid.to_owned(),
            signature.to_owned(),
            timestamp.to_owned(),
            nonce.to_owned(),
        );
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys
            .remove(&key);
    }

    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_push_is_new_once_within_the_window() {
        let seen = SeenPushes::new(300);
        assert!(seen.first_time("wxapp", "sig", "1000", "7", 1000, 1000));
        assert!(!seen.first_time("wxapp", "sig", "1000", "7", 1000, 1100));
        assert!(
            seen.first_time("wxapp", "sig", "1000", "8", 1000, 1100),
            "another nonce is another push"
        );
        assert!(
            seen.first_time("wxother", "sig", "1000", "7", 1000, 1100),
            "another app's"
        );
        seen.forget("wxapp", "sig", "1000", "7");
        assert!(
            seen.first_time("wxapp", "sig", "1000", "7", 1000, 1100),
            "a push that could not be applied is new again"
        );
    }

    #[test]
    fn pushes_are_forgotten_once_out_of_the_window() {
        let seen = SeenPushes::new(300);
        assert!(seen.first_time("wxapp", "a", "1000", "1", 1000, 1000));
        assert!(seen.first_time("wxapp", "b", "1200", "1", 1200, 1300));
        assert_eq!(seen.remembered(), 2);
        seen.first_time("wxapp", "c", "1400", "1", 1400, 1400);
        assert_eq!(seen.remembered(), 2, "the first left the window");
    }

    #[test]
    fn memory_is_bounded() {
        let seen = SeenPushes::new(300);
        for i in 0..(CAPACITY + 10) {
            seen.first_time("wxapp", &format!("s{i}"), "1000", "1", 1000, 1000);
        }
        assert!(seen.remembered() <= CAPACITY);
    }
}
