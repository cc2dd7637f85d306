//! Changes other instances make, told to this one: on PostgreSQL, every logout, ended session
//! and profile change is announced with `NOTIFY`, and a listener thread hands them to the
//! subscriber, so in-process caches can drop what changed within a fraction of a second.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use diesel::{Connection, PgConnection, RunQueryDsl};
use wxlogin_domain::{Cause, ChangeFeed, ChangeHandler, StoreChange, StoreError, Subscription};

use crate::connection::AnyConnection;
use crate::{DatabaseUrl, DieselUserStore};

/// The channel the announcements travel on.
const CHANNEL: &str = "wxlogin_changes";
/// How often the listener looks for announcements that arrived.
const POLL: Duration = Duration::from_millis(50);
/// How often it checks that its connection still works (a silent network loss sends nothing),
/// and then tells the subscriber it heard everything so far ([`StoreChange::Heard`]): a cache
/// trusts its entries longer only while these keep coming.
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

/// Tells the other instances (PostgreSQL only) that something they may cache changed. A
/// failure is logged, not returned: the change itself is made, and caches expire anyway.
pub(crate) fn announce(conn: &mut AnyConnection, change: &StoreChange) {
    let (AnyConnection::Postgresql(c), Some(payload)) = (conn, payload(change)) else {
        return;
    };
    let sent = diesel::sql_query("SELECT pg_notify($1, $2)")
        .bind::<diesel::sql_types::Text, _>(CHANNEL)
        .bind::<diesel::sql_types::Text, _>(&payload)
        .execute(c);
    if let Err(e) = sent {
        log::warn!("announcing a change to other instances failed: {e}");
    }
}

impl ChangeFeed for DieselUserStore {
    /// On PostgreSQL, a thread that `LISTEN`s and hands every announcement to `handler`;
    /// `None` on SQLite, which one process serves. The thread stops within one poll of the
    /// subscription being dropped.
    fn subscribe(&self, handler: ChangeHandler) -> Result<Option<Subscription>, StoreError> {
        match &self.db.url {
            DatabaseUrl::Sqlite(_) => Ok(None),
            DatabaseUrl::Postgres(url) => listen(url.clone(), handler)
                .map(|listener| Some(Subscription::new(listener)))
                .map_err(|e| StoreError::Unavailable(Cause::new(e))),
        }
    }
}

/// A running listener; dropping it stops the thread (within one poll).
struct ChangeListener {
    stop: Arc<AtomicBool>,
}

impl Drop for ChangeListener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Starts a thread that listens on `url` and calls `on_change` for every announcement, and with
/// [`StoreChange::Missed`] whenever it (re)connects.
fn listen(url: String, on_change: ChangeHandler) -> std::io::Result<ChangeListener> {
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = Arc::clone(&stop);
    std::thread::Builder::new()
        .name("wxlogin-changes".into())
        .spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                if let Err(e) = listen_once(&url, &on_change, &stopped) {
                    log::warn!("change listener: {e}; reconnecting in {RECONNECT:?}");
                }
                on_change(StoreChange::Missed);
                std::thread::sleep(RECONNECT);
            }
        })?;
    Ok(ChangeListener { stop })
}

fn listen_once(
    url: &str,
    on_change: &ChangeHandler,
    stop: &AtomicBool,
) -> Result<(), diesel::result::Error> {
    let mut conn = PgConnection::establish(url).map_err(|e| {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UnableToSendCommand,
            Box::new(e.to_string()),
        )
    })?;
    diesel::sql_query(format!("LISTEN {CHANNEL}")).execute(&mut conn)?;
    // Whatever happened before LISTEN took effect was not heard.
    on_change(StoreChange::Missed);
    let mut checked = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        for notification in conn.notifications_iter() {
            if let Some(change) = parse(&notification?.payload) {
                on_change(change);
            }
        }
        if checked.elapsed() >= HEALTH_CHECK {
            diesel::sql_query("SELECT 1").execute(&mut conn)?;
            checked = Instant::now();
            // Whatever was announced before that answer came before it on this connection:
            // handed over now, then the subscriber hears that nothing earlier is pending.
            for notification in conn.notifications_iter() {
                if let Some(change) = parse(&notification?.payload) {
                    on_change(change);
                }
            }
            on_change(StoreChange::Heard);
        }
        std::thread::sleep(POLL);
    }
    Ok(())
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
}
