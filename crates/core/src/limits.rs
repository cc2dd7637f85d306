//! What bounds the WeChat calls one account can make an app spend: a per-account limit on the
//! user-data routes, and a memory of each session's `checksession` verdict.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// At most this many accounts (or sessions) are remembered; past it, the oldest window is
/// dropped. A few dozen bytes each.
const CAPACITY: usize = 16 * 1024;

/// Entries that each start a window at some instant and are forgotten once it is over, or,
/// when full, oldest first. Every call costs amortised constant time: entries leave from the
/// front of a queue in the order their windows started, never by a scan of the whole map.
struct Windows<V> {
    window: Duration,
    entries: HashMap<String, (Instant, V)>,
    /// When each entry's window started, oldest first. An entry whose window started again
    /// has a stale place here too, skipped when it comes to the front.
    started: VecDeque<(Instant, String)>,
}

impl<V> Windows<V> {
    fn new(window: Duration) -> Self {
        Self {
            window,
            entries: HashMap::new(),
            started: VecDeque::new(),
        }
    }

    /// Drops what the window is over for, and, to make room for one more, the oldest.
    fn sweep(&mut self, now: Instant) {
        while let Some((since, _)) = self.started.front() {
            let over = now.duration_since(*since) >= self.window;
            let full = self.entries.len() >= CAPACITY || self.started.len() > 2 * CAPACITY;
            if !over && !full {
                return;
            }
            let Some((since, key)) = self.started.pop_front() else {
                return;
            };
            if self.entries.get(&key).is_some_and(|(at, _)| *at == since) {
                self.entries.remove(&key);
            }
        }
    }

    /// The entry of `key` whose window is not over, if any.
    fn get_mut(&mut self, key: &str, now: Instant) -> Option<&mut V> {
        let window = self.window;
        self.entries
            .get_mut(key)
            .filter(|(since, _)| now.duration_since(*since) < window)
            .map(|(_, value)| value)
    }

    /// Starts a new window for `key` with `value`.
    fn start(&mut self, key: &str, value: V, now: Instant) {
        self.sweep(now);
        self.entries.insert(key.to_owned(), (now, value));
        self.started.push_back((now, key.to_owned()));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

/// Counts calls per key in fixed windows of `window`.
pub(crate) struct PerKeyLimit {
    per_window: u32,
    counts: Mutex<Windows<u32>>,
}

impl PerKeyLimit {
    /// `per_window` calls per `window`; 0 turns the limit off.
    pub(crate) fn new(per_window: u32, window: Duration) -> Self {
        Self {
            per_window,
            counts: Mutex::new(Windows::new(window)),
        }
    }

    /// Counts a call of `key`; `false` when it is over the limit (and is not counted).
    pub(crate) fn allow(&self, key: &str) -> bool {
        if self.per_window == 0 {
            return true;
        }
        let now = Instant::now();
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        match counts.get_mut(key, now) {
            Some(count) if *count >= self.per_window => false,
            Some(count) => {
                *count += 1;
                true
            }
            None => {
                counts.start(key, 1, now);
                true
            }
        }
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
    seen: Mutex<Windows<bool>>,
}

impl Verdicts {
    pub(crate) fn new(fresh_for: Duration) -> Self {
        Self {
            seen: Mutex::new(Windows::new(fresh_for)),
        }
    }

    /// Whether WeChat said the key of `session_id` is current, if it said so lately.
    pub(crate) fn get(&self, session_id: &str) -> Option<bool> {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.get_mut(session_id, Instant::now())
            .map(|current| *current)
    }

    pub(crate) fn put(&self, session_id: &str, current: bool) {
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.start(session_id, current, now);
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
    fn when_full_the_oldest_window_is_dropped_for_a_new_key() {
        let limit = PerKeyLimit::new(1, Duration::from_secs(60));
        for i in 0..CAPACITY {
            assert!(limit.allow(&format!("u{i}")));
        }
        assert!(limit.allow("newcomer"), "a new account is not refused");
        assert_eq!(limit.remembered(), CAPACITY);
        assert!(limit.allow("u0"), "the oldest window was the one dropped");
        assert!(!limit.allow("u1000"), "younger windows are kept");
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
