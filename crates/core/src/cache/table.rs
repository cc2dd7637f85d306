//! What the session cache holds and how much it weighs: one table of sessions and users under
//! one byte budget, each entry weighed by what it holds.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Instant;

use quick_cache::sync::{Cache, DefaultLifecycle};
use quick_cache::{DefaultHashBuilder, Equivalent, OptionsBuilder, Weighter};
use wxlogin_domain::User;

/// The memory the cache may hold when none is configured: 32 MiB, about 27,000 sessions with
/// their users (each about 1.2 KiB, as `tests/session_cache_memory.rs` measures).
pub(crate) const DEFAULT_BYTES: u64 = 32 * 1024 * 1024;

/// What an entry costs besides its strings, measured (`tests/session_cache_memory.rs`): the
/// table's slot and its growth, the key's and the value's allocations, malloc's overhead.
const SESSION_BYTES: u64 = 360;
const USER_BYTES: u64 = 600;

/// A key of the one table: sessions and users share the budget.
#[derive(Clone, PartialEq, Eq)]
pub(super) enum Key {
    Session(Arc<str>),
    User(Arc<str>),
}

/// A key looked up without allocating one: hashes as [`Key`] does.
pub(super) struct Lookup<'a> {
    pub(super) user: bool,
    pub(super) id: &'a str,
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Self::Session(id) => Lookup { user: false, id }.hash(state),
            Self::User(id) => Lookup { user: true, id }.hash(state),
        }
    }
}

impl Hash for Lookup<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.user.hash(state);
        self.id.hash(state);
    }
}

impl Equivalent<Key> for Lookup<'_> {
    fn equivalent(&self, key: &Key) -> bool {
        match key {
            Key::Session(id) => !self.user && **id == *self.id,
            Key::User(id) => self.user && **id == *self.id,
        }
    }
}

#[derive(Clone)]
pub(super) enum Entry {
    Session(Arc<CachedSession>),
    User(Arc<CachedUser>),
}

pub(super) struct CachedSession {
    pub(super) user_id: Arc<str>,
    pub(super) appid: Box<str>,
    pub(super) expires_at: i64,
    /// When it was read from the store.
    pub(super) read_at: Instant,
    /// Until when it is trusted: between half the window and the whole window after it was
    /// read, spread by the session id, so that sessions read together are not all read again
    /// in the same instant (a burst of misses that queues requests behind the database).
    pub(super) trusted_until: Instant,
}

pub(super) struct CachedUser {
    pub(super) user: User,
    pub(super) fetched: Instant,
}

/// The bytes an entry holds: its strings, and what every entry of its kind costs.
#[derive(Clone)]
pub(super) struct ByBytes;

impl Weighter<Key, Entry> for ByBytes {
    fn weight(&self, key: &Key, entry: &Entry) -> u64 {
        weight(key, entry)
    }
}

fn weight(key: &Key, entry: &Entry) -> u64 {
    let len = |s: &str| s.len() as u64;
    let key_len = match key {
        Key::Session(id) | Key::User(id) => len(id),
    };
    key_len
        + match entry {
            Entry::Session(s) => SESSION_BYTES + len(&s.appid),
            Entry::User(u) => {
                let user = &u.user;
                USER_BYTES
                    + len(&user.id)
                    + user.unionid.as_ref().map_or(0, |u| len(u.expose()))
                    + user.nick_name.as_deref().map_or(0, len)
                    + user.avatar_url.as_deref().map_or(0, len)
                    + user.phone_number.as_deref().map_or(0, len)
                    + user.apps.iter().map(|a| 24 + len(a)).sum::<u64>()
            }
        }
}

/// The share of the budget for sessions that are asked for again; the rest is probation.
/// S3-FIFO's paper finds 10 % probation best across traces; quick_cache's own default (3 %)
/// would give a new user's session only a few dozen logins' time to be asked for before it
/// is pushed out (it then comes back through the ghosts, at the cost of one more read).
const MAIN_SHARE: f64 = 0.9;

pub(super) type Table =
    Cache<Key, Entry, ByBytes, DefaultHashBuilder, DefaultLifecycle<Key, Entry>>;

pub(super) fn new_table(bytes: u64) -> Table {
    // The estimate sizes the table and the ghosts; the weight is the bound.
    let estimated_items = usize::try_from(bytes / ((SESSION_BYTES + USER_BYTES) / 2))
        .unwrap_or(usize::MAX)
        .max(16);
    let options = OptionsBuilder::new()
        .estimated_items_capacity(estimated_items)
        .weight_capacity(bytes.max(1))
        .hot_allocation(MAIN_SHARE)
        .build();
    match options {
        Ok(options) => Cache::with_options(
            options,
            ByBytes,
            DefaultHashBuilder::default(),
            DefaultLifecycle::default(),
        ),
        // Only a capacity of zero or a share outside 0..=1 is refused, and neither is passed.
        Err(_) => Cache::with_weighter(estimated_items, bytes.max(1), ByBytes),
    }
}
