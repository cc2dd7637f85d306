//! The sessions known to have ended, each kept only while a token of it could still pass.

use std::collections::{BTreeSet, HashMap};
use std::sync::{PoisonError, RwLock};

/// The furthest ahead an entry is kept, in seconds.
const MAX_UNTIL_AHEAD_SECS: u64 = 366 * 24 * 3600;

/// sid → `until` (Unix seconds after which no token of the session can be live), plus the same
/// pairs ordered by `until`, so forgetting the expired ones costs only those ones.
#[derive(Default)]
struct Entries {
    by_sid: HashMap<String, u64>,
    by_until: BTreeSet<(u64, String)>,
}

/// The ended sessions the revocation feed announced, forgotten once their tokens are dead.
pub(crate) struct Revocations {
    /// How long after `until` an entry is kept: the verifier's leeway, since a token is
    /// accepted up to that long after its `exp`, and `exp <= until`.
    grace_secs: u64,
    entries: RwLock<Entries>,
}

impl Revocations {
    pub(crate) fn new(grace_secs: u64) -> Self {
        Self {
            grace_secs,
            entries: RwLock::default(),
        }
    }

    /// Whether `sid` has ended (as far as the feed has said).
    pub(crate) fn is_revoked(&self, sid: &str) -> bool {
        self.entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .by_sid
            .contains_key(sid)
    }

    /// Records that `sid` ended; an entry already past its `until` (plus grace) is not kept.
    /// Repeats are harmless: the later `until` wins.
    pub(crate) fn insert(&self, sid: String, until: u64, now: u64) {
        if until.saturating_add(self.grace_secs) < now {
            return;
        }
        // No token lives longer than a session can (a year, wxlogin's longest): an `until`
        // further out is no real end's, and would keep its entry forever.
        let until = until.min(now.saturating_add(MAX_UNTIL_AHEAD_SECS));
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        match entries.by_sid.get(&sid).copied() {
            Some(known) if known >= until => {}
            known => {
                if let Some(known) = known {
                    entries.by_until.remove(&(known, sid.clone()));
                }
                entries.by_until.insert((until, sid.clone()));
                entries.by_sid.insert(sid, until);
            }
        }
    }

    /// Forgets the sessions none of whose tokens can pass any more.
    pub(crate) fn forget_expired(&self, now: u64) {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        while let Some((until, _)) = entries.by_until.first() {
            if until.saturating_add(self.grace_secs) >= now {
                break;
            }
            if let Some((_, sid)) = entries.by_until.pop_first() {
                entries.by_sid.remove(&sid);
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .by_sid
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ended_session_is_revoked_until_its_until_plus_grace_then_forgotten() {
        let revocations = Revocations::new(30);
        revocations.insert("s1".into(), 1_000, 900);

        revocations.forget_expired(1_030);
        assert!(revocations.is_revoked("s1"));

        revocations.forget_expired(1_031);
        assert!(!revocations.is_revoked("s1"));
        assert_eq!(revocations.len(), 0);
    }

    #[test]
    fn a_repeated_entry_keeps_the_later_until_and_one_entry() {
        let revocations = Revocations::new(0);
        revocations.insert("s1".into(), 1_000, 900);
        revocations.insert("s1".into(), 2_000, 900);
        revocations.insert("s1".into(), 1_500, 900);

        revocations.forget_expired(1_600);

        assert!(revocations.is_revoked("s1"));
        assert_eq!(revocations.len(), 1);
    }

    #[test]
    fn an_entry_already_dead_is_not_kept() {
        let revocations = Revocations::new(30);
        revocations.insert("old".into(), 1_000, 2_000);
        assert_eq!(revocations.len(), 0);
    }

    #[test]
    fn forgetting_stops_at_the_first_live_entry() {
        let revocations = Revocations::new(0);
        for (i, until) in [5_u64, 1, 4, 2, 3].into_iter().enumerate() {
            revocations.insert(format!("s{i}"), until, 0);
        }

        revocations.forget_expired(3);

        assert_eq!(revocations.len(), 3);
        assert!(revocations.is_revoked("s4")); // until 3: still live at 3
        assert!(!revocations.is_revoked("s3")); // until 2
    }
}
