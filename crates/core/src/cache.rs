//! Live sessions and their users, remembered so that an authenticated request costs no database
//! round trip.
//!
//! What this instance changes (logout, profile edits, a stale session_key) it applies to the
//! cache at once. What another instance changes reaches this one through the change feed, or
//! when the entry's freshness window runs out. While the feed keeps saying it has heard
//! everything ([`StoreChange::Heard`], a few times a second), entries are trusted for a longer
//! window, since a change would have been told; when it falls silent for longer than its
//! grace, the short window is the bound again, so a logout elsewhere is honoured here within
//! about the grace plus the short window, whatever happens to the feed.
//!
//! What stays is decided by what is asked for, not by what was put last: `quick_cache`'s
//! policy (Clock-PRO, close to S3-FIFO) puts a new entry in a probation part (a tenth of the
//! budget, once the cache is full) and moves it to the main part only once it is asked for
//! again; an entry pushed out of probation is
//! remembered as a ghost, so one asked for soon after goes straight to the main part. A burst
//! of logins whose sessions are never used again passes through probation and leaves the
//! sessions that are being used where they are. The capacity is in bytes, each entry weighed
//! by what it holds (`cache/table.rs`), sessions and users in one budget.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use quick_cache::sync::Cache;
use wxlogin_domain::{Session, StoreChange, User};

mod table;

pub(crate) use table::DEFAULT_BYTES;
use table::{CachedSession, CachedUser, Entry, Key, Lookup, Table, new_table};

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
    entries: Table,
    /// Counts every forgetting. A read from the store that began before one must not put what
    /// it read back: it may be the session a logout just ended.
    epoch: AtomicU64,
    /// Puts and updates hold it shared while they check the epoch and write; forgetting holds
    /// it alone while it removes and counts, so no write lands between the two.
    forgetting: RwLock<()>,
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

/// How often an authenticated request found its session in the cache, since start, and what
/// the cache holds now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    /// Sessions answered from the cache.
    pub hits: u64,
    /// Sessions read from the store (not cached, or no longer trusted).
    pub misses: u64,
    /// Sessions and users held now.
    pub entries: u64,
    /// Their weight in bytes, at most the configured capacity.
    pub bytes: u64,
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
            entries: new_table(DEFAULT_BYTES),
            epoch: AtomicU64::new(0),
            forgetting: RwLock::new(()),
            fresh_for,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            fresh_with_feed,
            feed_grace,
            started: Instant::now(),
            heard_at_ms: AtomicU64::new(0),
        }
    }

    /// The same, holding at most `bytes` of sessions and users.
    pub(crate) fn with_bytes(self, bytes: u64) -> Self {
        Self {
            entries: new_table(bytes),
            ..self
        }
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
            entries: self.entries.len() as u64,
            bytes: self.entries.weight(),
        }
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
        let Some(Entry::Session(session)) = self.entries.get(&Lookup {
            user: false,
            id: session_id,
        }) else {
            return None;
        };
        if !self.trusted(session.read_at, session.trusted_until, now, heard) {
            return None;
        }
        let Some(Entry::User(user)) = self.entries.get(&Lookup {
            user: true,
            id: &session.user_id,
        }) else {
            return None;
        };
        if !self.trusted(user.fetched, user.fetched + self.fresh_for, now, heard) {
            return None;
        }
        Some(Hit {
            user: user.user.clone(),
            user_id: session.user_id.to_string(),
            appid: session.appid.to_string(),
            expires_at: session.expires_at,
        })
    }

    /// Take one before reading a session from the store, and give it to [`SessionCache::put`].
    pub(crate) fn ticket(&self) -> Ticket {
        Ticket(self.epoch.load(Ordering::Acquire))
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
        let user_id: Arc<str> = Arc::from(user.id.as_str());
        let cached_session = Entry::Session(Arc::new(CachedSession {
            // The user's key and the session's pointer to it share one allocation.
            user_id: if session.user_id == user.id {
                Arc::clone(&user_id)
            } else {
                Arc::from(session.user_id.as_str())
            },
            appid: session.appid.as_str().into(),
            expires_at: session.expires_at,
            read_at: now,
            trusted_until: now + self.spread(&session.id),
        }));
        let cached_user = Entry::User(Arc::new(CachedUser {
            user: user.clone(),
            fetched: now,
        }));
        let _writing = self
            .forgetting
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        if self.epoch.load(Ordering::Acquire) != ticket.0 {
            return;
        }
        self.entries.insert(Key::User(user_id), cached_user);
        self.entries
            .insert(Key::Session(Arc::from(session.id.as_str())), cached_session);
    }

    /// Counts a forgetting and runs `remove` with no put in between.
    fn forget(&self, remove: impl FnOnce(&Table)) {
        let _alone = self
            .forgetting
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        remove(&self.entries);
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// Forgets a session that ended (logout, stale session_key), and refuses what reads begun
    /// before bring back.
    pub(crate) fn forget_session(&self, session_id: &str) {
        self.forget(|entries| {
            entries.remove(&Lookup {
                user: false,
                id: session_id,
            });
        });
    }

    /// Forgets a user another instance changed: it is read again on its next request.
    pub(crate) fn forget_user(&self, user_id: &str) {
        self.forget(|entries| {
            entries.remove(&Lookup {
                user: true,
                id: user_id,
            });
        });
    }

    /// Forgets a user and the sessions named (those a change ended), so that none is served
    /// from here again.
    pub(crate) fn forget_all(&self, user_id: &str, sessions: &[String]) {
        self.forget_user(user_id);
        for session in sessions {
            self.forget_session(session);
        }
    }

    /// Forgets everything (changes elsewhere may have gone unheard).
    pub(crate) fn clear(&self) {
        self.forget(Cache::clear);
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

    /// Replaces a user this instance changed, if it is remembered, keeping when it was read:
    /// the change is this instance's own, so it does not make the rest of the entry fresher.
    pub(crate) fn update_user(&self, user: &User) {
        let _writing = self
            .forgetting
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let key = Lookup {
            user: true,
            id: &user.id,
        };
        if let Some(Entry::User(cached)) = self.entries.peek(&key) {
            self.entries.insert(
                Key::User(Arc::from(user.id.as_str())),
                Entry::User(Arc::new(CachedUser {
                    user: user.clone(),
                    fetched: cached.fetched,
                })),
            );
        }
    }
}

#[cfg(test)]
mod tests;
