//! What bounds the WeChat calls one account can make an app spend: a per-account limit on the
//! user-data routes, and a memory of each session's `checksession` verdict.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// At most this many accounts (or sessions) are remembered; past it, those whose window is over
/// are swept, and if none are, the oldest window is dropped. A few dozen bytes each.
const CAPACITY: usize = 16 * 1024;

/// Counts calls per key in fixed windows of `window`.
pub(crate) struct PerKeyLimit {
    per_window: u32,
    window: Duration,
    counts: Mutex<HashMap<String, (Instant, u32)>>,
}

impl PerKeyLimit {
    /// `per_window` calls per `window`; 0 turns the limit off.
    pub(crate) fn new(per_window: u32, window: Duration) -> Self {
        Self {
            per_window,
            window,
            counts: Mutex::default(),
        }
    }

    /// Counts a call of `key`; `false` when it is over the limit (and is not counted).
    pub(crate) fn allow(&self, key: &str) -> bool {
        if self.per_window == 0 {
            return true;
        }
        let now = Instant::now();
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if counts.len() >= CAPACITY && !counts.contains_key(key) {
            counts.retain(|_, (since, _)| now.duration_since(*since) < self.window);
        }
        let entry = counts.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        if entry.1 >= self.per_window {
            return false;
        }
        entry.1 += 1;
        true
    }

    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// What `checksession` said of a session's key lately: asked once per session and window, not
/// once per refused request.
pub(crate) struct Verdicts {
    fresh_for: Duration,
    seen: Mutex<HashMap<String, (Instant, bool)>>,
}

impl Verdicts {
    pub(crate) fn new(fresh_for: Duration) -> Self {
        Self {
            fresh_for,
            seen: Mutex::default(),
        }
    }

    /// Whether WeChat said the key of `session_id` is current, if it said so lately.
    pub(crate) fn get(&self, session_id: &str) -> Option<bool> {
        let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.get(session_id)
            .filter(|(at, _)| at.elapsed() < self.fresh_for)
            .map(|(_, current)| *current)
    }

    pub(crate) fn put(&self, session_id: &str, current: bool) {
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.len() >= CAPACITY && !seen.contains_key(session_id) {
            seen.retain(|_, (at, _)| now.duration_since(*at) < self.fresh_for);
            if seen.len() >= CAPACITY {
                return;
            }
        }
        seen.insert(session_id.to_owned(), (now, current));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_its_calls_per_window_and_no_more() {
        let limit = PerKeyLimit::new(3, Duration::from_secs(60));
        assert!((0..3).all(|_| limit.allow("u1")));
        assert!(!limit.allow("u1"));
        assert!(limit.allow("u2"), "another account has its own");
        assert!(
            PerKeyLimit::new(0, Duration::from_secs(60)).allow("u1"),
            "0: off"
        );
    }

    #[test]
    fn a_new_window_starts_afresh() {
        let limit = PerKeyLimit::new(1, Duration::from_millis(50));
        assert!(limit.allow("u1"));
        assert!(!limit.allow("u1"));
        std::thread::sleep(Duration::from_millis(60));
        assert!(limit.allow("u1"));
    }

    #[test]
    fn memory_is_bounded() {
        let limit = PerKeyLimit::new(5, Duration::from_millis(10));
        for i in 0..CAPACITY {
            limit.allow(&format!("u{i}"));
        }
        std::thread::sleep(Duration::from_millis(20));
        limit.allow("one more");
        assert!(limit.remembered() <= CAPACITY);
        assert_eq!(
            limit.remembered(),
            1,
            "the windows that were over are swept"
        );
    }

    #[test]
    fn verdicts_are_remembered_for_their_window() {
        let verdicts = Verdicts::new(Duration::from_secs(60));
        assert_eq!(verdicts.get("s"), None);
        verdicts.put("s", true);
        assert_eq!(verdicts.get("s"), Some(true));
        let short = Verdicts::new(Duration::ZERO);
        short.put("s", true);
        assert_eq!(short.get("s"), None);
    }
}
