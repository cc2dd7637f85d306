//! Changes other instances make, told to this one: on PostgreSQL, every logout, ended session
//! and profile change is announced with `NOTIFY`, and a listener thread hands them to a callback,
//! so in-process caches can drop what changed within a fraction of a second.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use diesel::{Connection, PgConnection, RunQueryDsl};

/// The channel the announcements travel on.
pub(crate) const CHANNEL: &str = "wxlogin_changes";
/// How often the listener looks for announcements that arrived.
const POLL: Duration = Duration::from_millis(50);
/// How often it checks that its connection still works (a silent network loss sends nothing).
const HEALTH_CHECK: Duration = Duration::from_secs(5);
/// The wait before reconnecting after the connection failed.
const RECONNECT: Duration = Duration::from_secs(1);

/// A change announced by some instance (this one included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChange {
    /// The session with this id was ended (logout) or shortened (expired).
    SessionEnded(String),
    /// The user with this id changed (profile, phone number).
    UserChanged(String),
    /// Announcements may have been missed (the listener was connecting or reconnecting):
    /// anything cached may be stale.
    Missed,
}

impl StoreChange {
    pub(crate) fn payload(&self) -> Option<String> {
        match self {
            Self::SessionEnded(id) => Some(format!("s:{id}")),
            Self::UserChanged(id) => Some(format!("u:{id}")),
            Self::Missed => None,
        }
    }

    fn parse(payload: &str) -> Option<Self> {
        match payload.split_once(':') {
            Some(("s", id)) => Some(Self::SessionEnded(id.to_owned())),
            Some(("u", id)) => Some(Self::UserChanged(id.to_owned())),
            _ => None,
        }
    }
}

/// A running listener; dropping it stops the thread (within one poll).
#[derive(Debug)]
pub struct ChangeListener {
    stop: Arc<AtomicBool>,
}

impl Drop for ChangeListener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Starts a thread that listens on `url` and calls `on_change` for every announcement, and with
/// [`StoreChange::Missed`] whenever it (re)connects.
pub(crate) fn listen(
    url: String,
    on_change: impl Fn(StoreChange) + Send + 'static,
) -> std::io::Result<ChangeListener> {
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
    on_change: &impl Fn(StoreChange),
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
            if let Some(change) = StoreChange::parse(&notification?.payload) {
                on_change(change);
            }
        }
        if checked.elapsed() >= HEALTH_CHECK {
            diesel::sql_query("SELECT 1").execute(&mut conn)?;
            checked = Instant::now();
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
            let payload = change.payload().expect("announced");
            assert_eq!(StoreChange::parse(&payload), Some(change));
        }
        assert_eq!(StoreChange::Missed.payload(), None);
        assert_eq!(StoreChange::parse("x:1"), None);
        assert_eq!(StoreChange::parse("nothing"), None);
    }
}
