//! The pushes accepted lately, so that one sent again (WeChat retrying, or someone replaying a
//! URL they saw) is answered `success` and applied no second time.
//!
//! A push is remembered by its app, signature, timestamp and nonce, as they are checked (the
//! signature in lower case without spaces, the timestamp as a number: another spelling of the
//! same signature is the same push), for as long as its timestamp is inside the window: past it
//! the push is refused as stale anyway. Only pushes whose signature checked out are remembered,
//! and only WeChat (holding the app's Token) can make new ones, so the memory grows with
//! WeChat's push rate, not an attacker's; it is bounded all the same. Another instance does not
//! share this memory: there a replay is harmless because an event changes data only when it is
//! newer than the data (see `service/push.rs`).

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

/// At most this many pushes are remembered; past it the oldest are forgotten (a few hundred
/// bytes each). WeChat sends one per authorization change, far fewer than this in 5 minutes.
const CAPACITY: usize = 16 * 1024;

/// What identifies one push: its app, signature (canonical), timestamp and nonce.
type PushKey = (String, String, i64, String);

/// Where a push is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seen {
    /// Not seen within the window: to be applied (it is now recorded as being applied).
    New,
    /// Being applied right now by another request: the copy is not answered `success` yet,
    /// since the first may still fail.
    InProgress,
    /// Applied already.
    Applied,
}

#[derive(Default)]
struct Pushes {
    /// Each push, whether it was applied, and the number of its place in `order`.
    states: HashMap<PushKey, (bool, u64)>,
    /// In the order they were accepted, with the timestamp they carried: the oldest go first.
    /// A push forgotten and accepted again has a stale place here, skipped by its number.
    order: VecDeque<(i64, u64, PushKey)>,
    next: u64,
}

/// The pushes accepted within the timestamp window.
pub(crate) struct SeenPushes {
    window_secs: i64,
    pushes: Mutex<Pushes>,
}

fn key(appid: &str, signature: &str, sent_at: i64, nonce: &str) -> PushKey {
    (
        appid.to_owned(),
        signature.trim().to_ascii_lowercase(),
        sent_at,
        nonce.to_owned(),
    )
}

impl SeenPushes {
    pub(crate) fn new(window_secs: i64) -> Self {
        Self {
            window_secs,
            pushes: Mutex::default(),
        }
    }

    /// Where the push (`appid`, `signature`, sent at `sent_at`, `nonce`) is; a new one is
    /// recorded as in progress. `now` sweeps what left the window.
    pub(crate) fn check_in(
        &self,
        appid: &str,
        signature: &str,
        sent_at: i64,
        nonce: &str,
        now: i64,
    ) -> Seen {
        let key = key(appid, signature, sent_at, nonce);
        let mut pushes = self.pushes.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some((at, _, _)) = pushes.order.front() {
            // Kept while a copy could still be inside the window, whichever side of now.
            let expired = now.saturating_sub(*at) > self.window_secs;
            if !expired && pushes.states.len() < CAPACITY && pushes.order.len() < 2 * CAPACITY {
                break;
            }
            if let Some((_, number, old)) = pushes.order.pop_front()
                && pushes.states.get(&old).is_some_and(|(_, n)| *n == number)
            {
                pushes.states.remove(&old);
            }
        }
        match pushes.states.get(&key) {
            Some((true, _)) => Seen::Applied,
            Some((false, _)) => Seen::InProgress,
            None => {
                let number = pushes.next;
                pushes.next += 1;
                pushes.states.insert(key.clone(), (false, number));
                pushes.order.push_back((sent_at, number, key));
                Seen::New
            }
        }
    }

    /// The push checked in as new was applied: copies are answered `success` from now on.
    pub(crate) fn applied(&self, appid: &str, signature: &str, sent_at: i64, nonce: &str) {
        let mut pushes = self.pushes.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((applied, _)) = pushes
            .states
            .get_mut(&key(appid, signature, sent_at, nonce))
        {
            *applied = true;
        }
    }

    /// The push checked in as new could not be applied (the database failed): forgotten, so
    /// that the copy WeChat sends again is applied.
    pub(crate) fn failed(&self, appid: &str, signature: &str, sent_at: i64, nonce: &str) {
        self.pushes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .states
            .remove(&key(appid, signature, sent_at, nonce));
    }

    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.pushes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .states
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_push_is_new_once_within_the_window() {
        let seen = SeenPushes::new(300);
        assert_eq!(seen.check_in("wxapp", "ab", 1000, "7", 1000), Seen::New);
        assert_eq!(
            seen.check_in("wxapp", "ab", 1000, "7", 1001),
            Seen::InProgress,
            "a copy while the first is applied"
        );
        seen.applied("wxapp", "ab", 1000, "7");
        assert_eq!(seen.check_in("wxapp", "ab", 1000, "7", 1100), Seen::Applied);
        assert_eq!(
            seen.check_in("wxapp", " AB ", 1000, "7", 1100),
            Seen::Applied,
            "another spelling of the same signature is the same push"
        );
        assert_eq!(
            seen.check_in("wxapp", "ab", 1000, "8", 1100),
            Seen::New,
            "another nonce is another push"
        );
        assert_eq!(
            seen.check_in("wxother", "ab", 1000, "7", 1100),
            Seen::New,
            "another app's"
        );
    }

    #[test]
    fn a_push_that_failed_is_new_again() {
        let seen = SeenPushes::new(300);
        assert_eq!(seen.check_in("wxapp", "ab", 1000, "7", 1000), Seen::New);
        seen.failed("wxapp", "ab", 1000, "7");
        assert_eq!(seen.check_in("wxapp", "ab", 1000, "7", 1005), Seen::New);
        seen.applied("wxapp", "ab", 1000, "7");
        assert_eq!(seen.check_in("wxapp", "ab", 1000, "7", 1006), Seen::Applied);
    }

    #[test]
    fn pushes_are_forgotten_once_out_of_the_window() {
        let seen = SeenPushes::new(300);
        seen.check_in("wxapp", "a", 1000, "1", 1000);
        seen.check_in("wxapp", "b", 1200, "1", 1300);
        assert_eq!(seen.remembered(), 2);
        seen.check_in("wxapp", "c", 1400, "1", 1400);
        assert_eq!(seen.remembered(), 2, "the first left the window");
    }

    #[test]
    fn memory_is_bounded() {
        let seen = SeenPushes::new(300);
        for i in 0..(CAPACITY + 10) {
            seen.check_in("wxapp", &format!("s{i}"), 1000, "1", 1000);
        }
        assert!(seen.remembered() <= CAPACITY);
    }
}
