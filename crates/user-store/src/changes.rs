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
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use diesel::{Connection, PgConnection, RunQueryDsl};
use wxlogin_domain::{ChangeHandler, StoreChange, Subscription};

use crate::connection::AnyConnection;
use crate::error::DbResult;

/// The channel the announcements travel on.
const CHANNEL: &str = "wxlogin_changes";
/// How often the listener looks for announcements that arrived.
const POLL: Duration = Duration::from_millis(50);
/// How often it sends a notification of its own on the channel (an echo), over a connection
/// of the store's URL as every announcement goes: when the echo comes back, every
/// announcement committed before it has come back too (PostgreSQL delivers them in commit
/// order), and the subscriber hears that nothing was missed ([`StoreChange::Heard`]). A cache
/// trusts its entries longer only while these keep coming. A query that merely answers would
/// prove nothing: behind a transaction-mode pooler (PgBouncer) queries work while
/// notifications are lost, and so are the echoes.
const HEALTH_CHECK: Duration = Duration::from_millis(250);
/// The wait before reconnecting after the connection failed.
const RECONNECT: Duration = Duration::from_secs(1);

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
pub(crate) fn announce(conn: &mut AnyConnection, change: &StoreChange) -> DbResult<()> {
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

/// A running listener; dropping it stops the thread (within one poll).
pub(crate) struct ChangeListener {
    stop: Arc<AtomicBool>,
}

impl Drop for ChangeListener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Starts a thread that listens on `url` and calls `on_change` for every announcement, and with
/// [`StoreChange::Missed`] whenever it (re)connects.
/// Its echoes are sent over `echo_url`, the store's own URL: the way every instance's
/// announcements reach the database.
pub(crate) fn listen(
    url: String,
    echo_url: String,
    on_change: ChangeHandler,
) -> std::io::Result<ChangeListener> {
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = Arc::clone(&stop);
    std::thread::Builder::new()
        .name("wxlogin-changes".into())
        .spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                if let Err(e) = listen_once(&url, &echo_url, &on_change, &stopped) {
                    log::warn!("change listener: {e}; reconnecting in {RECONNECT:?}");
                }
                on_change(StoreChange::Missed);
                std::thread::sleep(RECONNECT);
            }
        })?;
    Ok(ChangeListener { stop })
}

fn connect(url: &str) -> Result<PgConnection, diesel::result::Error> {
    PgConnection::establish(url).map_err(|e| {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UnableToSendCommand,
            Box::new(e.to_string()),
        )
    })
}

/// Listens on one connection and sends its echoes over another, as any instance's
/// announcements come: the listening connection runs no query while echoes come back, so
/// nothing but notifications can make it look alive. (Behind a transaction-mode pooler a client
/// that runs queries is handed whatever its server connection receives while linked to it,
/// echoes included, and loses the rest.)
fn listen_once(
    url: &str,
    echo_url: &str,
    on_change: &ChangeHandler,
    stop: &AtomicBool,
) -> Result<(), diesel::result::Error> {
    let mut conn = connect(url)?;
    let mut echoes = connect(echo_url)?;
    diesel::sql_query(format!("LISTEN {CHANNEL}")).execute(&mut conn)?;
    // Whatever happened before LISTEN took effect was not heard.
    on_change(StoreChange::Missed);
    let me = uuid::Uuid::new_v4().simple().to_string();
    let (mut sent, mut heard_up_to) = (0u64, 0u64);
    let mut echoed_at = Instant::now();
    let mut probed_at = Instant::now();
    let mut warned_at = Instant::now();
    let mut echo_sent_at: Option<Instant> = None;
    while !stop.load(Ordering::Relaxed) {
        // Reads what arrived without a query; a connection the server closed fails here.
        for notification in conn.notifications_iter() {
            let payload = notification?.payload;
            if let Some((listener, sequence)) = parse_echo(&payload) {
                // One of our echoes, newer than the last heard: everything committed before it
                // was handed over above.
                if listener == me && sequence > heard_up_to && sequence <= sent {
                    heard_up_to = sequence;
                    echoed_at = Instant::now();
                    on_change(StoreChange::Heard);
                }
            } else if let Some(change) = parse(&payload) {
                on_change(change);
            }
        }
        if echo_sent_at.is_none_or(|at| at.elapsed() >= HEALTH_CHECK) {
            sent += 1;
            diesel::sql_query("SELECT pg_notify($1, $2)")
                .bind::<diesel::sql_types::Text, _>(CHANNEL)
                .bind::<diesel::sql_types::Text, _>(echo_payload(&me, sent))
                .execute(&mut echoes)?;
            echo_sent_at = Some(Instant::now());
        }
        if echoed_at.elapsed() >= PROBE_AFTER && probed_at.elapsed() >= PROBE_AFTER {
            // The echoes stay away: a listening connection that died silently (a network cut
            // sends nothing) fails this and is made again.
            diesel::sql_query("SELECT 1").execute(&mut conn)?;
            probed_at = Instant::now();
            if warned_at.elapsed() >= ECHO_SILENCE_WARNING {
                log::warn!(
                    "change listener: its own notifications have not come back for {:?}; is \
                     DATABASE_LISTEN_URL a direct connection (not through a transaction-mode \
                     pooler)? Until they do, cached sessions are trusted for SESSION_CACHE_MS \
                     only",
                    echoed_at.elapsed()
                );
                warned_at = Instant::now();
            }
        }
        std::thread::sleep(POLL);
    }
    Ok(())
}

/// How long the echoes may stay away before the listening connection is checked with a query.
const PROBE_AFTER: Duration = Duration::from_secs(1);

/// How long the echoes may stay away before the listener says so in the log (once per such
/// stretch).
const ECHO_SILENCE_WARNING: Duration = Duration::from_secs(30);

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
