//! Changes other instances make, told to this one: on PostgreSQL, every logout, ended session
//! and profile change is announced with `NOTIFY`, and a listener thread hands them to the
//! subscriber, so in-process caches can drop what changed within a fraction of a second.
//!
//! On SQLite one process serves the file (it holds a lock on `<file>-lock`, and a second process
//! is refused), so every change is made in this process: each is handed to this process's
//! subscribers once the store call that made it is done, and a thread says every 250 ms that
//! nothing was missed ([`StoreChange::Heard`]), as the PostgreSQL listener does.

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use diesel::RunQueryDsl;
use wxlogin_domain::{ChangeHandler, StoreChange, Subscription};

mod listener;

pub(crate) use listener::listen;

use crate::connection::AnyConnection;
use crate::error::DbResult;

/// The channel the announcements travel on.
const CHANNEL: &str = "wxlogin_changes";
fn payload(change: &StoreChange) -> Option<String> {
    match change {
        StoreChange::SessionEnded(id) => Some(format!("s:{id}")),
        StoreChange::UserChanged(id) => Some(format!("u:{id}")),
        StoreChange::Missed | StoreChange::Heard => None,
    }
}

fn parse(payload: &str) -> Option<StoreChange> {
    match payload.split_once(':') {
        Some(("s", id)) => Some(StoreChange::SessionEnded(id.to_owned())),
        Some(("u", id)) => Some(StoreChange::UserChanged(id.to_owned())),
        _ => None,
    }
}

/// The payload of a listener's echo: `e:<listener>:<sequence>`. Every listener hears every
/// instance's echoes and answers only to its own.
fn echo_payload(listener: &str, sequence: u64) -> String {
    format!("e:{listener}:{sequence}")
}

fn parse_echo(payload: &str) -> Option<(&str, u64)> {
    let (listener, sequence) = payload.strip_prefix("e:")?.rsplit_once(':')?;
    Some((listener, sequence.parse().ok()?))
}

thread_local! {
    /// What this thread's store call changed on SQLite, handed over when the call is done (its
    /// transactions committed): a cache told earlier could read the old row back in.
    static MADE_HERE: RefCell<Vec<StoreChange>> = const { RefCell::new(Vec::new()) };
}

/// Tells the other instances (on PostgreSQL) or this process's subscribers (on SQLite, once the
/// store call is done) that something they may cache changed. Call it inside the transaction
/// that makes the change: PostgreSQL delivers a `NOTIFY` when, and only if, its transaction
/// commits, so the change and its announcement commit together, and a failed announcement
/// fails the change (a success that other instances never hear of would let them serve an
/// ended session for a minute).
///
/// An ended session is also recorded for the revocation feed, in the same transaction: every
/// path that ends a session announces it, so none is missed there either.
pub(crate) fn announce(conn: &mut AnyConnection, change: &StoreChange) -> DbResult<()> {
    if let StoreChange::SessionEnded(id) = change {
        crate::ended_sessions::record_end(conn, id)?;
    }
    let c = match conn {
        AnyConnection::Postgresql(c) => c,
        AnyConnection::Sqlite(_) => {
            MADE_HERE.with(|made| made.borrow_mut().push(change.clone()));
            return Ok(());
        }
    };
    let Some(payload) = payload(change) else {
        return Ok(());
    };
    diesel::sql_query("SELECT pg_notify($1, $2)")
        .bind::<diesel::sql_types::Text, _>(CHANNEL)
        .bind::<diesel::sql_types::Text, _>(&payload)
        .execute(c)?;
    Ok(())
}

/// The changes this thread's store call made on SQLite, taken to be handed over.
pub(crate) fn made_here() -> Vec<StoreChange> {
    MADE_HERE.with(|made| std::mem::take(&mut *made.borrow_mut()))
}

/// How often a [`LocalFeed`] says it missed nothing.
const LOCAL_HEARD: Duration = Duration::from_millis(250);

/// The subscribers of one SQLite file in this process, shared by every store open on it, and
/// the lock that keeps other processes off the file.
pub(crate) struct LocalFeed {
    subscribers: Mutex<Vec<(u64, Arc<ChangeHandler>)>>,
    next_id: AtomicU64,
    _lock: std::fs::File,
}

/// The feeds of the SQLite files open in this process, by path.
static LOCAL_FEEDS: Mutex<Vec<(PathBuf, Weak<LocalFeed>)>> = Mutex::new(Vec::new());

/// Why a SQLite file could not be claimed for this process.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClaimFailed {
    #[error(
        "another process serves {0} (it holds {0}-lock): one process per SQLite file; \
         several instances need PostgreSQL"
    )]
    Taken(String),
    #[error("cannot lock {path}-lock")]
    Lock {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl LocalFeed {
    /// The feed of the SQLite file at `path` in this process, made (taking the file's lock, and
    /// starting its thread) if no store has it open. `None` where the file system cannot lock
    /// (some network file systems): the store then works without a feed, its cache trusting
    /// entries for the short window only, as before SQLite had one.
    pub(crate) fn claim(path: &str) -> Result<Option<Arc<Self>>, ClaimFailed> {
        let key = std::fs::canonicalize(path).unwrap_or_else(|_| PathBuf::from(path));
        let mut feeds = LOCAL_FEEDS.lock().unwrap_or_else(PoisonError::into_inner);
        feeds.retain(|(_, feed)| feed.strong_count() > 0);
        if let Some(feed) = feeds
            .iter()
            .find(|(at, _)| *at == key)
            .and_then(|(_, feed)| feed.upgrade())
        {
            return Ok(Some(feed));
        }
        let lock_failed = |source| ClaimFailed::Lock {
            path: path.to_owned(),
            source,
        };
        // Named after the file itself, not the path given: through a symlink or another
        // spelling of the path, a second process still meets the same lock.
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(format!("{}-lock", key.display()))
            .map_err(lock_failed)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(ClaimFailed::Taken(path.to_owned()));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                log::warn!(
                    "cannot lock {path}-lock ({e}); without it sessions are trusted for \
                     SESSION_CACHE_MS only, and nothing stops a second process on the file"
                );
                return Ok(None);
            }
        }
        let feed = Arc::new(Self {
            subscribers: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(0),
            _lock: lock,
        });
        let heard = Arc::downgrade(&feed);
        std::thread::Builder::new()
            .name("wxlogin-sqlite-feed".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(LOCAL_HEARD);
                    let Some(feed) = heard.upgrade() else {
                        return;
                    };
                    feed.hand_over(&[StoreChange::Heard]);
                }
            })
            .map_err(lock_failed)?;
        feeds.push((key, Arc::downgrade(&feed)));
        Ok(Some(feed))
    }

    /// Hands `changes` to every subscriber, in order.
    pub(crate) fn hand_over(&self, changes: &[StoreChange]) {
        if changes.is_empty() {
            return;
        }
        let subscribers: Vec<Arc<ChangeHandler>> = self
            .subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(_, handler)| Arc::clone(handler))
            .collect();
        for handler in subscribers {
            for change in changes {
                handler(change.clone());
            }
        }
    }

    pub(crate) fn subscribe(self: &Arc<Self>, handler: ChangeHandler) -> Subscription {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((id, Arc::new(handler)));
        Subscription::new(LocalSubscription {
            feed: Arc::downgrade(self),
            id,
        })
    }
}

/// Removes its handler from the feed when dropped.
struct LocalSubscription {
    feed: Weak<LocalFeed>,
    id: u64,
}

impl Drop for LocalSubscription {
    fn drop(&mut self) {
        if let Some(feed) = self.feed.upgrade() {
            feed.subscribers
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .retain(|(id, _)| *id != self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip() {
        for change in [
            StoreChange::SessionEnded("a-b".into()),
            StoreChange::UserChanged("u:1".into()),
        ] {
            let payload = payload(&change).expect("announced");
            assert_eq!(parse(&payload), Some(change));
        }
        assert_eq!(payload(&StoreChange::Missed), None);
        assert_eq!(parse("x:1"), None);
        assert_eq!(parse("nothing"), None);
    }

    #[test]
    fn echoes_round_trip_and_are_no_change() {
        let payload = echo_payload("abc", 42);
        assert_eq!(parse_echo(&payload), Some(("abc", 42)));
        assert_eq!(parse(&payload), None, "an echo changes nothing");
        assert_eq!(parse_echo("s:abc"), None);
        assert_eq!(parse_echo("e:abc:x"), None);
    }
}
