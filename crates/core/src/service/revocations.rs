//! The revocation feed: which sessions ended while tokens of theirs may still be unexpired,
//! for services that verify tokens offline. A cursor says where a reader stands; a reader that
//! waits is answered as soon as a session ends anywhere.

use std::collections::BTreeMap;
use std::time::Duration;

use wxlogin_domain::Revocations;

use super::LoginService;
use crate::CoreError;

/// The longest a reader may wait for an end (the contract's 30 s).
pub const MAX_REVOCATION_WAIT: Duration = Duration::from_secs(30);

/// How far before a cursor's moment ends are asked for again: an end stamped just before a
/// reader's answer may commit after it (a slow commit). Readers take an end as often as it
/// comes, and a repeat is no news: it does not end a wait.
const OVERLAP_MS: i64 = 10_000;

/// How often a waiting reader asks the store again without being told of a change, when there
/// is no change feed: the bound on how late it hears an end then.
const POLL: Duration = Duration::from_millis(500);

/// The same with a change feed, which tells every end as it commits: a safety net only.
const POLL_WITH_FEED: Duration = Duration::from_secs(5);

/// How long a woken reader waits for more ends before asking the store: a burst of logouts
/// (a logout everywhere, a deletion) is one question, not one per end.
const SETTLE: Duration = Duration::from_millis(100);

/// How far ahead of the store's clock a cursor may be (instances' clocks are not the store's;
/// a cursor is the store's own moment, so only a made-up one is further): such a cursor would
/// keep its reader waiting on ends that cannot come.
const CURSOR_AHEAD_MS: i64 = 5_000;

/// How many readers may wait at once on one instance.
pub(crate) const MAX_WAITERS: usize = 64;

/// The latest moment a cursor may name, in milliseconds (the year 5138).
const MAX_CURSOR_MS: i64 = 100_000_000_000_000;

/// How long after a token's `exp` a verifier may still take it (their clocks differ).
const VERIFIER_SKEW_SECS: i64 = 60;

/// A session that ended, and until when a token of it could still be taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedSession {
    /// The session (`sid`).
    pub session_id: String,
    /// Unix seconds after which no token of it can be live: a reader forgets it then.
    pub until: i64,
}

/// One answer of the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationPage {
    /// The sessions ended, by end.
    pub revoked: Vec<RevokedSession>,
    /// Where the reader stands now: send it with the next question.
    pub cursor: String,
}

/// Where a reader stands: the store's moment of its last answer, and how many ends the store
/// then held from [`OVERLAP_MS`] before it (more, later, means one committed late).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cursor {
    at_ms: i64,
    before: usize,
}

impl Cursor {
    fn parse(text: &str) -> Result<Self, CoreError> {
        let (at, before) = text
            .strip_prefix("c1.")
            .and_then(|rest| rest.split_once('.'))
            .ok_or(CoreError::InvalidCursor)?;
        let at_ms: i64 = at.parse().map_err(|_| CoreError::InvalidCursor)?;
        // A moment of this era's clock, as the store gave it: anything else is made up (and
        // would overflow the arithmetic below).
        if !(0..=MAX_CURSOR_MS).contains(&at_ms) {
            return Err(CoreError::InvalidCursor);
        }
        Ok(Self {
            at_ms,
            before: before.parse().map_err(|_| CoreError::InvalidCursor)?,
        })
    }

    fn text(self) -> String {
        format!("c1.{}.{}", self.at_ms, self.before)
    }

    /// The cursor after an answer of the store.
    fn after(answer: &Revocations) -> Self {
        let from = answer.now_ms - OVERLAP_MS;
        Self {
            at_ms: answer.now_ms,
            before: answer
                .ended
                .iter()
                .filter(|e| e.ended_at_ms >= from && e.ended_at_ms < answer.now_ms)
                .count(),
        }
    }

    /// Whether `answer` holds an end the reader at this cursor has not been told.
    fn news_in(self, answer: &Revocations) -> bool {
        let from = self.at_ms - OVERLAP_MS;
        let before = answer
            .ended
            .iter()
            .filter(|e| e.ended_at_ms >= from && e.ended_at_ms < self.at_ms)
            .count();
        before > self.before || answer.ended.iter().any(|e| e.ended_at_ms >= self.at_ms)
    }
}

impl LoginService {
    /// The sessions ended since `cursor` (without one: every ended session whose tokens may
    /// still be live), waiting up to `wait` (at most [`MAX_REVOCATION_WAIT`]) for one when
    /// there is none yet. [`CoreError::InvalidCursor`] for a cursor it did not give.
    pub async fn revocations(
        &self,
        cursor: Option<&str>,
        wait: Duration,
    ) -> Result<RevocationPage, CoreError> {
        let Some(cursor) = cursor.map(Cursor::parse).transpose()? else {
            let answer = self.sessions.ended_sessions_since(0).await?;
            return Ok(self.page(&answer, self.clock.now()));
        };
        // Only so many readers wait at once on an instance; the others are answered at once
        // (they ask again, as without `wait`): waiting readers cost the store a question each
        // time they are woken.
        let waiting = self.revocation_waiters.clone().try_acquire_owned().ok();
        let wait = if waiting.is_some() {
            wait.min(MAX_REVOCATION_WAIT)
        } else {
            Duration::ZERO
        };
        let deadline = tokio::time::Instant::now() + wait;
        let poll = if self._changes.is_some() {
            POLL_WITH_FEED
        } else {
            POLL
        };
        // Subscribed before the first question: an end announced after it wakes the wait.
        let mut ended = self.ended.subscribe();
        loop {
            let answer = self
                .sessions
                .ended_sessions_since(cursor.at_ms - OVERLAP_MS)
                .await?;
            if cursor.at_ms > answer.now_ms + CURSOR_AHEAD_MS {
                return Err(CoreError::InvalidCursor);
            }
            if cursor.news_in(&answer) || tokio::time::Instant::now() >= deadline {
                return Ok(self.page(&answer, self.clock.now()));
            }
            let pause = deadline.min(tokio::time::Instant::now() + poll);
            tokio::select! {
                _ = ended.changed() => {
                    let settled = deadline.min(tokio::time::Instant::now() + SETTLE);
                    tokio::time::sleep_until(settled).await;
                }
                () = tokio::time::sleep_until(pause) => {}
            }
        }
    }

    fn page(&self, answer: &Revocations, now: i64) -> RevocationPage {
        let lives = self.settings.access_token_ttl_secs.max(1) + VERIFIER_SKEW_SECS;
        // One entry a session (it may have ended twice), its latest end.
        let mut until = BTreeMap::new();
        let mut order = Vec::new();
        for end in &answer.ended {
            let last = end.ended_at_ms.div_euclid(1000) + lives;
            if last < now {
                continue;
            }
            if until.insert(end.session_id.as_str(), last).is_none() {
                order.push(end.session_id.as_str());
            }
        }
        RevocationPage {
            revoked: order
                .into_iter()
                .map(|id| RevokedSession {
                    session_id: id.to_owned(),
                    until: until[id],
                })
                .collect(),
            cursor: Cursor::after(answer).text(),
        }
    }

    /// Forgets the ends of sessions whose tokens have all expired, and says how many: run it
    /// every few seconds with the other housekeeping. Any instance may run it.
    pub async fn purge_told_revocations(&self) -> Result<usize, CoreError> {
        let lives = self.settings.access_token_ttl_secs.max(1) + VERIFIER_SKEW_SECS;
        let before_ms = (self.clock.now() - lives - 60).saturating_mul(1000);
        Ok(self.sessions.purge_ended_sessions_before(before_ms).await?)
    }
}

#[cfg(test)]
mod tests {
    use wxlogin_domain::EndedSession;

    use super::*;

    fn answer(now_ms: i64, ends: &[i64]) -> Revocations {
        Revocations {
            ended: ends
                .iter()
                .enumerate()
                .map(|(i, at)| EndedSession {
                    session_id: format!("s{i}"),
                    ended_at_ms: *at,
                })
                .collect(),
            now_ms,
        }
    }

    #[test]
    fn a_cursor_reads_back_what_it_wrote_and_refuses_anything_else() {
        let cursor = Cursor {
            at_ms: 1_800_000_000_123,
            before: 2,
        };
        assert_eq!(Cursor::parse(&cursor.text()).expect("parses"), cursor);
        for bad in [
            "",
            "c1.",
            "c1.x.1",
            "c1.1",
            "c2.1.1",
            "c1.1.-1",
            "c1.-9223372036854775808.0",
            "c1.9223372036854775807.0",
        ] {
            assert!(Cursor::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_end_after_the_cursor_or_one_that_committed_late_is_news_a_repeat_is_not() {
        let first = answer(10_000, &[9_000, 9_500]);
        let cursor = Cursor::after(&first);
        assert_eq!(cursor.before, 2);
        // The same ends again: nothing new, the reader waits.
        assert!(!cursor.news_in(&answer(10_400, &[9_000, 9_500])));
        // An end stamped before the answer that committed after it.
        assert!(cursor.news_in(&answer(10_400, &[9_000, 9_500, 9_900])));
        // An end after it.
        assert!(cursor.news_in(&answer(10_400, &[9_000, 9_500, 10_100])));
    }
}
