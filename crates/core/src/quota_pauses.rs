//! This process's memory of the WeChat quotas it saw spent: what stops it asking when no store
//! shares pauses (SQLite), or when that store fails.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// By key (`<api>:<appid>`): the unix millisecond until which it is paused. One entry per app
/// and API at most, so it needs no bound.
#[derive(Debug, Default)]
pub(crate) struct QuotaPauses {
    until: Mutex<HashMap<String, i64>>,
}

impl QuotaPauses {
    pub(crate) fn paused(&self, key: &str, now_ms: i64) -> bool {
        self.until
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .is_some_and(|until| *until > now_ms)
    }

    pub(crate) fn pause_until(&self, key: &str, until_ms: i64) {
        let mut until = self.until.lock().unwrap_or_else(PoisonError::into_inner);
        let at = until.entry(key.to_owned()).or_insert(until_ms);
        *at = (*at).max(until_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pause_holds_until_its_end_and_a_shorter_one_does_not_cut_it() {
        let pauses = QuotaPauses::default();
        pauses.pause_until("phone:a", 2000);
        pauses.pause_until("phone:a", 1000);
        assert!(pauses.paused("phone:a", 1999));
        assert!(!pauses.paused("phone:a", 2000));
        assert!(!pauses.paused("phone:b", 0), "another app is not paused");
    }
}
