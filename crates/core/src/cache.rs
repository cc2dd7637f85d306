//! Live sessions and their users, remembered for a short while so that an authenticated request
//! costs no database round trip.
//!
//! What this instance changes (logout, profile edits, a stale session_key) it applies to the
//! cache at once. What another instance changes reaches this one through the change feed, or
//! when the entry's freshness window runs out. While the feed keeps saying it has heard
//! everything ([`StoreChange::Heard`], a few times a second), entries are trusted for a longer
//! window, since a change would have been told; when it falls silent for longer than its
//! grace, the short window is the bound again, so a logout elsewhere is honoured here within
//! about the grace plus the short window, whatever happens to the feed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use wxlogin_domain::{Session, StoreChange, User};

/// How many sessions (and as many users) are remembered when no capacity is given; past it,
/// stale entries are swept, and if none are stale, new ones are not cached (they are read from
/// the store on each request instead). About 1 KiB of the process's memory per session and
/// its user, as measured under a login flood.
pub(crate) const DEFAULT_CAPACITY: usize = 4096;

struct CachedSession {
    user_id: String,
    appid: String,
    expires_at: i64,
    /// When it was read from the store.
    read_at: Instant,
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
    /// When a full cache was last swept for entries no longer trusted, and how many times.
    swept_at: Option<Instant>,
    sweeps: u64,
}

/// A full cache is swept at most this often: a sweep walks every entry under the lock, and
/// while the feed is heard few entries age out, so sweeping on every `put` would cost each
/// login a walk of the whole cache for nothing.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

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
    capacity: usize,
    fresh_for: Duration,
    hits: AtomicU64,
    misses: AtomicU64,
    /// How long entries are trusted while the feed is heard; at most `fresh_for` otherwise.
    fresh_with_feed: Duration,
    /// How recent the feed's last [`StoreChange::Heard`] must be for that.
    feed_grace: Duration,
    started: Instant,
    /// When the feed was last heard, in milliseconds after `started`; 0: not since the last
    /// [`StoreChange::Missed`] (or ever).
    heard_at_ms: AtomicU64,
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
    #[cfg(test)]
    pub(crate) fn new(fresh_for: Duration) -> Self {
        Self::with_feed(fresh_for, Duration::ZERO, Duration::ZERO)
    }

    /// A cache whose entries are trusted for `fresh_for`, and for `fresh_with_feed` while the
    /// change feed was heard within `feed_grace`.
    pub(crate) fn with_feed(
        fresh_for: Duration,
        fresh_with_feed: Duration,
        feed_grace: Duration,
    ) -> Self {
        Self {
            entries: Mutex::default(),
            capacity: DEFAULT_CAPACITY,
            fresh_for,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            fresh_with_feed,
            feed_grace,
            started: Instant::now(),
            heard_at_ms: AtomicU64::new(0),
        }
    }

    /// The same, remembering at most `capacity` sessions (and as many users).
    pub(crate) fn with_capacity(self, capacity: usize) -> Self {
        Self { capacity, ..self }
    }

    /// Whether the feed was heard recently enough for the longer window.
    fn feed_heard(&self, now: Instant) -> bool {
        let at = self.heard_at_ms.load(Ordering::Acquire);
        at != 0
            && !self.fresh_with_feed.is_zero()
            && now.saturating_duration_since(self.started + Duration::from_millis(at))
                < self.feed_grace
    }

    /// Whether an entry read at `read_at` (and trusted alone until `trusted_until`) may still
    /// be answered from.
    fn trusted(&self, read_at: Instant, trusted_until: Instant, now: Instant, heard: bool) -> bool {
        now < trusted_until
            || (heard && now.saturating_duration_since(read_at) < self.fresh_with_feed)
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
        let heard = self.feed_heard(now);
        let entries = self.lock();
        let session = entries
            .sessions
            .get(session_id)
            .filter(|s| self.trusted(s.read_at, s.trusted_until, now, heard))?;
        let user = entries
            .users
            .get(&session.user_id)
            .filter(|u| self.trusted(u.fetched, u.fetched + self.fresh_for, now, heard))?;
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
        if entries.sessions.len() >= self.capacity && !entries.sessions.contains_key(&session.id) {
            if entries
                .swept_at
                .is_some_and(|at| now.saturating_duration_since(at) < SWEEP_EVERY)
            {
                return;
            }
            entries.swept_at = Some(now);
            entries.sweeps += 1;
            let heard = self.feed_heard(now);
            entries
                .sessions
                .retain(|_, s| self.trusted(s.read_at, s.trusted_until, now, heard));
            entries
                .users
                .retain(|_, u| self.trusted(u.fetched, u.fetched + self.fresh_for, now, heard));
            if entries.sessions.len() >= self.capacity {
                return;
            }
        }
        entries.sessions.insert(
            session.id.clone(),
            CachedSession {
                user_id: session.user_id.clone(),
                appid: session.appid.clone(),
                expires_at: session.expires_at,
                read_at: now,
                trusted_until: now + self.spread(&session.id),
            },
        );
        if entries.users.len() < self.capacity || entries.users.contains_key(&user.id) {
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
            StoreChange::Missed => {
                self.heard_at_ms.store(0, Ordering::Release);
                self.clear();
            }
            StoreChange::Heard => {
                let at = Instant::now().saturating_duration_since(self.started);
                let ms = u64::try_from(at.as_millis()).unwrap_or(u64::MAX).max(1);
                self.heard_at_ms.store(ms, Ordering::Release);
            }
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
mod tests;
