//! The PostgreSQL listener: a thread that hears every instance's announcements on one
//! connection, sends its own echoes over another (so that nothing but notifications can make it
//! look alive), and hands what it hears to the subscriber.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use diesel::{Connection, PgConnection, RunQueryDsl};
use wxlogin_domain::{ChangeHandler, StoreChange};

use super::{CHANNEL, echo_payload, parse, parse_echo};

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

/// A running listener; dropping it stops the thread and waits, a moment at most, for it to
/// have closed its connections.
pub(crate) struct ChangeListener {
    stop: Arc<AtomicBool>,
    thread: std::thread::Thread,
    ended: Mutex<std::sync::mpsc::Receiver<()>>,
}

/// The longest a dropped listener is waited for: one query, or a connection attempt, in flight.
const STOP_WAIT: Duration = Duration::from_secs(2);

impl Drop for ChangeListener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.unpark();
        // Waited for so that nothing of it runs on once its store is gone: a process that exits
        // right after (a test binary) would otherwise close its TLS connections while the C
        // library tears itself down, and crash. A thread stuck connecting is left behind.
        let ended = self.ended.get_mut().unwrap_or_else(PoisonError::into_inner);
        let _ = ended.recv_timeout(STOP_WAIT);
    }
}

/// Sleeps for `pause`, or until the listener is stopped.
fn pause(pause: Duration, stop: &AtomicBool) {
    let until = Instant::now() + pause;
    while !stop.load(Ordering::Relaxed) {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::park_timeout(left);
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
    let (end, ended) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("wxlogin-changes".into())
        .spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                if let Err(e) = listen_once(&url, &echo_url, &on_change, &stopped) {
                    log::warn!("change listener: {e}; reconnecting in {RECONNECT:?}");
                }
                on_change(StoreChange::Missed);
                pause(RECONNECT, &stopped);
            }
            // Its connections are closed: listen_once dropped them.
            let _ = end.send(());
        })?;
    Ok(ChangeListener {
        stop,
        thread: thread.thread().clone(),
        ended: Mutex::new(ended),
    })
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
        pause(POLL, stop);
    }
    Ok(())
}

/// How long the echoes may stay away before the listening connection is checked with a query.
const PROBE_AFTER: Duration = Duration::from_secs(1);

/// How long the echoes may stay away before the listener says so in the log (once per such
/// stretch).
const ECHO_SILENCE_WARNING: Duration = Duration::from_secs(30);
