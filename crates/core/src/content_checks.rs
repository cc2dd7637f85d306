//! WeChat's content security as the use cases meet it: whether to ask, what to do when WeChat
//! cannot be asked, an app's pause after its quota is spent, and the counts for metrics.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use wxlogin_domain::{Suggest, WeChatError};

/// Whether and how nicknames and avatars pass WeChat's content security (`CONTENT_CHECK`,
/// `CONTENT_CHECK_FAIL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ContentCheckSettings {
    /// Ask WeChat at all.
    pub enabled: bool,
    /// When WeChat cannot be asked (down, quota spent): refuse the change (503) rather than
    /// accept it unchecked.
    pub fail_closed: bool,
}

/// How content checks went, since the process started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ContentCheckStats {
    /// Verdicts `pass`.
    pub passed: u64,
    /// Verdicts `review`: let through.
    pub reviewed: u64,
    /// Verdicts `risky`: a nickname refused, an avatar taken down.
    pub risky: u64,
    /// Checks WeChat could not answer (down, errors).
    pub failed: u64,
    /// Checks not asked because the app's quota was spent this minute (errcode 45009).
    pub quota_paused: u64,
}

/// The process's content-check state.
#[derive(Debug, Default)]
pub(crate) struct ContentChecks {
    pub(crate) settings: ContentCheckSettings,
    /// By appid: the unix minute whose quota WeChat said was spent. WeChat counts per clock
    /// minute, so the next minute asks again.
    paused: Mutex<HashMap<String, i64>>,
    passed: AtomicU64,
    reviewed: AtomicU64,
    risky: AtomicU64,
    failed: AtomicU64,
    quota_paused: AtomicU64,
}

impl ContentChecks {
    pub(crate) fn new(settings: ContentCheckSettings) -> Self {
        Self {
            settings,
            ..Self::default()
        }
    }

    /// Whether `appid`'s checks may be asked at unix second `now`; counts one not asked.
    pub(crate) fn may_ask(&self, appid: &str, now: i64) -> bool {
        let paused = self
            .paused
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(appid)
            .is_some_and(|minute| *minute == now.div_euclid(60));
        if paused {
            self.quota_paused.fetch_add(1, Ordering::Relaxed);
        }
        !paused
    }

    /// Counts a check not asked because another instance saw the app's quota spent.
    pub(crate) fn paused_elsewhere(&self) {
        self.quota_paused.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a verdict.
    pub(crate) fn verdict(&self, suggest: Suggest) {
        let counter = match suggest {
            Suggest::Pass => &self.passed,
            Suggest::Review => &self.reviewed,
            Suggest::Risky => &self.risky,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a check WeChat did not answer; a spent quota pauses the app's checks until the
    /// next minute.
    pub(crate) fn failed(&self, appid: &str, error: &WeChatError, now: i64) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        if matches!(error, WeChatError::QuotaExhausted) {
            log::warn!(
                "WeChat's content-check quota of {appid} is spent; pausing its checks until the next minute"
            );
            self.paused
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(appid.to_owned(), now.div_euclid(60));
        }
    }

    /// Counts a check whose image WeChat could not download (`status_code` -1008).
    pub(crate) fn undownloadable(&self) {
        self.failed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn stats(&self) -> ContentCheckStats {
        ContentCheckStats {
            passed: self.passed.load(Ordering::Relaxed),
            reviewed: self.reviewed.load(Ordering::Relaxed),
            risky: self.risky.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            quota_paused: self.quota_paused.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spent_quota_pauses_the_app_until_the_next_minute_only() {
        let checks = ContentChecks::new(ContentCheckSettings {
            enabled: true,
            fail_closed: false,
        });
        let minute = 1_800_000_000 / 60 * 60;
        assert!(checks.may_ask("a", minute + 5));
        checks.failed("a", &WeChatError::QuotaExhausted, minute + 5);
        assert!(!checks.may_ask("a", minute + 59), "paused this minute");
        assert!(checks.may_ask("b", minute + 59), "another app is not");
        assert!(checks.may_ask("a", minute + 60), "asked again the next");
        checks.failed("a", &WeChatError::Busy, minute + 61);
        assert!(
            checks.may_ask("a", minute + 62),
            "only a spent quota pauses"
        );
        let stats = checks.stats();
        assert_eq!((stats.failed, stats.quota_paused), (2, 1));
    }
}
