//! The webhooks scenario's receiver: an HTTP/1.1 listener on 127.0.0.1:0, a thread per
//! connection, answering 204 at once (or, while holding, once released), each arrival's time
//! kept by the payload's `data.userId`.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the receiver saw.
#[derive(Default)]
pub(super) struct Inbox {
    /// When each user's `user.created` first arrived.
    pub(super) arrivals: HashMap<String, Instant>,
    pub(super) ids: HashSet<String>,
    pub(super) duplicates: u64,
    /// Deliveries without a `data.userId`.
    pub(super) strays: u64,
    holding: bool,
}

/// The receiver: an HTTP/1.1 listener on loopback, a thread per connection.
pub(super) struct Receiver {
    pub(super) addr: SocketAddr,
    inbox: Arc<(Mutex<Inbox>, Condvar)>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Receiver {
    pub(super) fn start() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let inbox = Arc::new((Mutex::new(Inbox::default()), Condvar::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (shared, stopped) = (Arc::clone(&inbox), Arc::clone(&stop));
        let accept = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::Relaxed) {
                    break;
                }
                if let Ok(stream) = stream {
                    let (inbox, stop) = (Arc::clone(&shared), Arc::clone(&stopped));
                    std::thread::spawn(move || serve(stream, &inbox, &stop).ok());
                }
            }
        });
        Ok(Self {
            addr,
            inbox,
            stop,
            accept: Some(accept),
        })
    }

    pub(super) fn inbox(&self) -> MutexGuard<'_, Inbox> {
        self.inbox.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Holds every answer from now on (`true`), or answers the held ones and the next at once.
    pub(super) fn hold(&self, holding: bool) {
        self.inbox().holding = holding;
        self.inbox.1.notify_all();
    }

    /// Waits (at most `within`) until every one of `users` has its webhook.
    pub(super) fn wait_for(&self, users: &[(String, Instant)], within: Duration) {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            let inbox = self.inbox();
            if users.iter().all(|(u, _)| inbox.arrivals.contains_key(u)) {
                return;
            }
            drop(inbox);
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.hold(false);
        let _ = TcpStream::connect(self.addr);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

/// Answers one connection's requests: each recorded on arrival, then answered 204 (once the
/// receiver stops holding).
fn serve(
    stream: TcpStream,
    (inbox, released): &(Mutex<Inbox>, Condvar),
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_millis(500)))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if stop.load(Ordering::Relaxed) || !line.is_empty() {
                    return Ok(());
                }
                continue;
            }
            Err(e) => return Err(e.into()),
        }
        let (mut length, mut id) = (0, String::new());
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 {
                return Ok(());
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse()?;
                } else if name.eq_ignore_ascii_case("webhook-id") {
                    value.trim().clone_into(&mut id);
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        let arrived = Instant::now();
        let user = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["data"]["userId"].as_str().map(str::to_owned));
        let mut held = inbox.lock().unwrap_or_else(PoisonError::into_inner);
        if !held.ids.insert(id) {
            held.duplicates += 1;
        }
        match user {
            Some(user) => {
                held.arrivals.entry(user).or_insert(arrived);
            }
            None => held.strays += 1,
        }
        while held.holding && !stop.load(Ordering::Relaxed) {
            held = released.wait(held).unwrap_or_else(PoisonError::into_inner);
        }
        drop(held);
        writer.write_all(b"HTTP/1.1 204 No Content\r\n\r\n")?;
    }
}
