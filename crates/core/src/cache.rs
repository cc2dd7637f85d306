//! Live sessions and their users, remembered for a short while so that an authenticated request
//! costs no database round trip.
//!
//! What this instance changes (logout, profile edits, a stale session_key) it applies to the
//! cache at once. What another instance changes reaches this one when the entry's freshness
//! window runs out, so the window is the bound on how long a logout elsewhere takes to be
//! honoured here.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use wxlogin_domain::{Session, StoreChange, User};

/// At most this many sessions (and as many users) are remembered; past it, stale entries are
/// swept, and if none are stale, new ones are not cached. About 0.5 KiB each.
const CAPACITY: usize = 16 * 1024;

struct CachedSession {
    user_id: String,
    appid: String,
    expires_at: i64,
    /// Until when it is trusted: between half the window and the whole window after it was
    /// read, spread by the session id, so that sessions read together are not all read again
    /// in the same instant (a burst of misses that queues requests behind the database).
    trusted_until: Instant,
}

struct CachedUser {
    user: User,
    fetched: Instant,
}

#[derive(Default)]
struct Entries {
    sessions: HashMap<String, CachedSession>,
    users: HashMap<String, CachedUser>,
    /// Counts every forgetting. A read from the store that began before one must not put what
    /// it read back: it may be the session a logout just ended.
    epoch: u64,
}

/// The cache's epoch when a read from the store began; [`SessionCache::put`] keeps what the
/// read found only if nothing was forgotten since.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ticket(u64);

/// A session found in the cache: its user, and when it expires.
pub(crate) struct Hit {
    pub(crate) user: User,
    pub(crate) user_id: String,
    pub(crate) appid: String,
    pub(crate) expires_at: i64,
}

pub(crate) struct SessionCache {
    entries: Mutex<Entries>,
    fresh_for: Duration,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// How often an authenticated request found its session in the cache, since start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    /// Sessions answered from the cache.
    pub hits: u64,
    /// Sessions read from the store (not cached, or no longer trusted).
    pub misses: u64,
}

impl SessionCache {
    /// A cache whose entries are trusted for `fresh_for`; zero turns it off.
    pub(crate) fn new(fresh_for: Duration) -> Self {
        Self {
            entries: Mutex::default(),
            fresh_for,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Half the window plus a share of the other half picked by `id`.
    fn spread(&self, id: &str) -> Duration {
        let share = id
            .bytes()
            .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
            % 1024;
        self.fresh_for / 2 + self.fresh_for / 2 * share / 1024
    }

    fn is_fresh(&self, fetched: Instant, now: Instant) -> bool {
        now.saturating_duration_since(fetched) < self.fresh_for
    }

    /// The live session `session_id` and its user, if both were read from the database within
    /// the freshness window. Revoked sessions are never cached.
    pub(crate) fn get(&self, session_id: &str) -> Option<Hit> {
        let hit = self.lookup(session_id);
        let counter = if hit.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        hit
    }

    fn lookup(&self, session_id: &str) -> Option<Hit> {
        if self.fresh_for.is_zero() {
            return None;
        }
        let now = Instant::now();
        let entries = self.lock();
        let session = entries
            .sessions
            .get(session_id)
            .filter(|s| now < s.trusted_until)?;
        let user = entries
            .users
            .get(&session.user_id)
            .filter(|u| self.is_fresh(u.fetched, now))?;
        Some(Hit {
            user: user.user.clone(),
            user_id: session.user_id.clone(),
            appid: session.appid.clone(),
            expires_at: session.expires_at,
        })
    }

    /// Take one before reading a session from the store, and give it to [`SessionCache::put`].
    pub(crate) fn ticket(&self) -> Ticket {
        Ticket(self.lock().epoch)
    }

    /// Remembers a live session and its user, as read from the database by a read that began
    /// when `ticket` was taken; not if anything was forgotten since (a logout, here or
    /// announced from elsewhere, may have ended this very session while the read was on its
    /// way, and putting it back would let it be served again).
    pub(crate) fn put(&self, session: &Session, user: &User, ticket: Ticket) {
        if self.fresh_for.is_zero() || session.revoked_at.is_some() {
            return;
        }
        let now = Instant::now();
        let mut entries = self.lock();
        if entries.epoch != ticket.0 {
            return;
        }
        if entries.sessions.len() >= CAPACITY && !entries.sessions.contains_key(&session.id) {
            entries.sessions.retain(|_, s| now < s.trusted_until);
            entries.users.retain(|_, u| self.is_fresh(u.fetched, now));
            if entries.sessions.len() >= CAPACITY {
                return;
            }
        }
        entries.sessions.insert(
            session.id.clone(),
            CachedSession {
                user_id: session.user_id.clone(),
                appid: session.appid.clone(),
                expires_at: session.expires_at,
                trusted_until: now + self.spread(&session.id),
            },
        );
        if entries.users.len() < CAPACITY || entries.users.contains_key(&user.id) {
            entries.users.insert(
                user.id.clone(),
                CachedUser {
                    user: user.clone(),
                    fetched: now,
                },
            );
        }
    }

    /// Forgets a session that ended (logout, stale session_key), and refuses what reads begun
    /// before bring back.
    pub(crate) fn forget_session(&self, session_id: &str) {
        let mut entries = self.lock();
        entries.sessions.remove(session_id);
        entries.epoch = entries.epoch.wrapping_add(1);
    }

    /// Forgets a user another instance changed: it is read again on its next request.
    pub(crate) fn forget_user(&self, user_id: &str) {
        let mut entries = self.lock();
        entries.users.remove(user_id);
        entries.epoch = entries.epoch.wrapping_add(1);
    }

    /// Forgets everything (changes elsewhere may have gone unheard).
    pub(crate) fn clear(&self) {
        let mut entries = self.lock();
        entries.sessions.clear();
        entries.users.clear();
        entries.epoch = entries.epoch.wrapping_add(1);
    }

    /// Applies a change another instance announced through the change feed.
    pub(crate) fn apply_change(&self, change: &StoreChange) {
        match change {
            StoreChange::SessionEnded(id) => self.forget_session(id),
            StoreChange::UserChanged(id) => self.forget_user(id),
            StoreChange::Missed => self.clear(),
        }
    }

    /// Replaces a user this instance changed, if it is remembered.
    pub(crate) fn update_user(&self, user: &User) {
        if let Some(cached) = self.lock().users.get_mut(&user.id) {
            cached.user = user.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, nick: &str) -> User {
        User {
            id: id.into(),
            unionid: None,
            nick_name: Some(nick.into()),
            avatar_url: None,
            gender: None,
            phone_number: None,
            apps: vec!["wxapp".into()],
            created_at: 0,
            updated_at: 0,
        }
    }

    fn session(id: &str, user_id: &str) -> Session {
        Session {
            id: id.into(),
            user_id: user_id.into(),
            appid: "wxapp".into(),
            created_at: 0,
            expires_at: 100,
            revoked_at: None,
        }
    }

    #[test]
    fn a_remembered_session_is_found_with_its_user() {
        let cache = SessionCache::new(Duration::from_secs(60));
        cache.put(&session("s", "u"), &user("u", "a"), cache.ticket());
        let hit = cache.get("s").expect("hit");
        assert_eq!(
            (hit.user.id.as_str(), hit.user_id.as_str(), hit.expires_at),
            ("u", "u", 100)
        );
        assert!(cache.get("other").is_none());
    }

    #[test]
    fn entries_are_trusted_only_within_the_window() {
        let cache = SessionCache::new(Duration::from_millis(50));
        cache.put(&session("s", "u"), &user("u", "a"), cache.ticket());
        assert!(cache.get("s").is_some());
        std::thread::sleep(Duration::from_millis(60));
        assert!(cache.get("s").is_none());
    }

    #[test]
    fn trust_is_spread_over_the_second_half_of_the_window() {
        let cache = SessionCache::new(Duration::from_millis(1000));
        let spreads: Vec<Duration> = (0..100).map(|i| cache.spread(&format!("s{i}"))).collect();
        assert!(
            spreads
                .iter()
                .all(|d| *d >= Duration::from_millis(500) && *d <= Duration::from_millis(1000))
        );
        assert!(spreads.iter().any(|d| *d != spreads[0]), "not all alike");
    }

    #[test]
    fn a_zero_window_turns_the_cache_off() {
        let cache = SessionCache::new(Duration::ZERO);
        cache.put(&session("s", "u"), &user("u", "a"), cache.ticket());
        assert!(cache.get("s").is_none());
    }

    #[test]
    fn revoked_sessions_are_not_cached_and_forgotten_ones_are_gone() {
        let cache = SessionCache::new(Duration::from_secs(60));
        let mut revoked = session("r", "u");
        revoked.revoked_at = Some(5);
        cache.put(&revoked, &user("u", "a"), cache.ticket());
        assert!(cache.get("r").is_none());
        cache.put(&session("s", "u"), &user("u", "a"), cache.ticket());
        cache.forget_session("s");
        assert!(cache.get("s").is_none());
    }

    #[test]
    fn a_local_profile_change_shows_at_once_in_every_session_of_the_user() {
        let cache = SessionCache::new(Duration::from_secs(60));
        cache.put(&session("s1", "u"), &user("u", "old"), cache.ticket());
        cache.put(&session("s2", "u"), &user("u", "old"), cache.ticket());
        cache.update_user(&user("u", "new"));
        for s in ["s1", "s2"] {
            assert_eq!(
                cache.get(s).expect("hit").user.nick_name.as_deref(),
                Some("new")
            );
        }
    }

    #[test]
    fn changes_elsewhere_are_forgotten() {
        let cache = SessionCache::new(Duration::from_secs(60));
        cache.put(&session("s1", "u"), &user("u", "a"), cache.ticket());
        cache.put(&session("s2", "v"), &user("v", "b"), cache.ticket());
        cache.forget_user("u");
        assert!(cache.get("s1").is_none(), "its user is read again");
        assert!(cache.get("s2").is_some());
        cache.clear();
        assert!(cache.get("s2").is_none());
    }

    #[test]
    fn a_read_begun_before_a_logout_does_not_put_the_session_back() {
        let cache = SessionCache::new(Duration::from_secs(60));
        let before = cache.ticket();
        cache.forget_session("s");
        cache.put(&session("s", "u"), &user("u", "a"), before);
        assert!(cache.get("s").is_none(), "the session that ended stays out");
        cache.put(&session("s", "u"), &user("u", "a"), cache.ticket());
        assert!(
            cache.get("s").is_some(),
            "a read begun afterwards may fill it"
        );
    }

    #[test]
    fn a_change_heard_from_elsewhere_also_refuses_reads_begun_before() {
        let cache = SessionCache::new(Duration::from_secs(60));
        for forget in [
            |c: &SessionCache| c.apply_change(&StoreChange::SessionEnded("s".into())),
            |c: &SessionCache| c.apply_change(&StoreChange::UserChanged("u".into())),
            |c: &SessionCache| c.apply_change(&StoreChange::Missed),
        ] {
            let before = cache.ticket();
            forget(&cache);
            cache.put(&session("s", "u"), &user("u", "a"), before);
            assert!(cache.get("s").is_none());
        }
    }

    #[test]
    fn memory_is_bounded() {
        let cache = SessionCache::new(Duration::from_secs(60));
        for i in 0..(CAPACITY + 100) {
            cache.put(
                &session(&format!("s{i}"), &format!("u{i}")),
                &user(&format!("u{i}"), "a"),
                cache.ticket(),
            );
        }
        let entries = cache.lock();
        assert!(entries.sessions.len() <= CAPACITY && entries.users.len() <= CAPACITY);
    }
}
