//! A stand-in for the wxlogin server: a real HTTP/1.1 listener on 127.0.0.1 serving the JWKS
//! and the revocation feed as the contract words them, driven by the test and counting what it
//! is asked. Stops when dropped (the accept task and every connection with it).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

pub struct FakeWxlogin {
    pub base_url: String,
    state: Arc<State>,
    task: JoinHandle<()>,
}

struct State {
    jwks: Mutex<Jwks>,
    jwks_requests: AtomicUsize,
    feed: Mutex<Feed>,
    /// Bumped on every change of the feed, to answer pending long polls.
    feed_changed: watch::Sender<u64>,
    feed_requests: AtomicUsize,
    feed_requests_without_cursor: AtomicUsize,
}

struct Jwks {
    keys: Vec<String>,
    cache_control: String,
    status: u16,
    padding: usize,
}

struct Feed {
    ended: Vec<(String, u64)>,
    /// Cursors are `epoch.index`; a new epoch makes every older cursor unknown (400).
    epoch: u64,
    failing_with: Option<u16>,
}

impl Drop for FakeWxlogin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeWxlogin {
    /// A server publishing `keys` (JWK texts) with `Cache-Control: public, max-age=600`.
    pub async fn start(keys: Vec<String>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(State {
            jwks: Mutex::new(Jwks {
                keys,
                cache_control: "public, max-age=600".into(),
                status: 200,
                padding: 0,
            }),
            jwks_requests: AtomicUsize::new(0),
            feed: Mutex::new(Feed {
                ended: Vec::new(),
                epoch: 1,
                failing_with: None,
            }),
            feed_changed: watch::channel(0).0,
            feed_requests: AtomicUsize::new(0),
            feed_requests_without_cursor: AtomicUsize::new(0),
        });
        let accepting = Arc::clone(&state);
        let task = tokio::spawn(async move {
            // Dropping the set (when this task is aborted) aborts every connection.
            let mut connections = JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                connections.spawn(serve(stream, Arc::clone(&accepting)));
                while connections.try_join_next().is_some() {}
            }
        });
        Self {
            base_url: format!("http://{addr}"),
            state,
            task,
        }
    }

    pub fn publish(&self, jwk: String) {
        lock(&self.state.jwks).keys.push(jwk);
    }

    pub fn set_jwks_cache_control(&self, value: &str) {
        lock(&self.state.jwks).cache_control = value.into();
    }

    pub fn set_jwks_status(&self, status: u16) {
        lock(&self.state.jwks).status = status;
    }

    /// Pads the JWKS document with whitespace to `bytes` more.
    pub fn pad_jwks(&self, bytes: usize) {
        lock(&self.state.jwks).padding = bytes;
    }

    pub fn jwks_requests(&self) -> usize {
        self.state.jwks_requests.load(Ordering::SeqCst)
    }

    /// Ends session `sid`: listed by the feed from now on, and pending long polls answered.
    pub fn end_session(&self, sid: &str, until: u64) {
        lock(&self.state.feed).ended.push((sid.into(), until));
        self.state.feed_changed.send_modify(|n| *n += 1);
    }

    /// Makes every cursor handed out so far unknown (as after a server's restart).
    pub fn forget_cursors(&self) {
        lock(&self.state.feed).epoch += 1;
        self.state.feed_changed.send_modify(|n| *n += 1);
    }

    /// Answers every feed request with this status (`None`: serve again).
    pub fn fail_feed_with(&self, status: Option<u16>) {
        lock(&self.state.feed).failing_with = status;
        self.state.feed_changed.send_modify(|n| *n += 1);
    }

    pub fn feed_requests(&self) -> usize {
        self.state.feed_requests.load(Ordering::SeqCst)
    }

    pub fn feed_requests_without_cursor(&self) -> usize {
        self.state
            .feed_requests_without_cursor
            .load(Ordering::SeqCst)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn serve(mut stream: TcpStream, state: Arc<State>) {
    let mut request = Vec::new();
    let mut buf = [0_u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
        if request.len() > 16 * 1024 {
            return;
        }
    }
    let request = String::from_utf8_lossy(&request);
    let target = request.split(' ').nth(1).unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let query: HashMap<&str, &str> = query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .collect();
    let (status, cache_control, body) = match path {
        "/.well-known/jwks.json" => jwks(&state),
        "/api/token/revocations" => feed(&state, &query).await,
        _ => (404, String::new(), error("not_found")),
    };
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json; charset=utf-8\r\n\
         Content-Length: {}\r\n{cache_control}Connection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

fn error(kind: &str) -> String {
    format!(r#"{{"error":"{kind}","message":"said by the fake"}}"#)
}

fn jwks(state: &State) -> (u16, String, String) {
    state.jwks_requests.fetch_add(1, Ordering::SeqCst);
    let jwks = lock(&state.jwks);
    if jwks.status != 200 {
        return (jwks.status, String::new(), error("internal"));
    }
    let body = format!(
        r#"{{"keys":[{}]}}{}"#,
        jwks.keys.join(","),
        " ".repeat(jwks.padding)
    );
    let cache_control = format!("Cache-Control: {}\r\n", jwks.cache_control);
    (200, cache_control, body)
}

async fn feed(state: &State, query: &HashMap<&str, &str>) -> (u16, String, String) {
    state.feed_requests.fetch_add(1, Ordering::SeqCst);
    let Some(cursor) = query.get("cursor") else {
        state
            .feed_requests_without_cursor
            .fetch_add(1, Ordering::SeqCst);
        let feed = lock(&state.feed);
        if let Some(status) = feed.failing_with {
            return (status, String::new(), error("internal"));
        }
        return (200, String::new(), page(&feed, 0));
    };
    let wait: u64 = query.get("wait").and_then(|w| w.parse().ok()).unwrap_or(0);
    let Some((epoch, from)) = cursor
        .split_once('.')
        .and_then(|(e, i)| Some((e.parse::<u64>().ok()?, i.parse::<usize>().ok()?)))
    else {
        return (400, String::new(), error("invalid_request"));
    };
    let mut changed = state.feed_changed.subscribe();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait.min(30));
    loop {
        {
            let feed = lock(&state.feed);
            if let Some(status) = feed.failing_with {
                return (status, String::new(), error("internal"));
            }
            if feed.epoch != epoch || from > feed.ended.len() {
                return (400, String::new(), error("invalid_request"));
            }
            if feed.ended.len() > from {
                return (200, String::new(), page(&feed, from));
            }
        }
        if tokio::time::timeout_at(deadline, changed.changed())
            .await
            .is_err()
        {
            let feed = lock(&state.feed);
            return (200, String::new(), page(&feed, from));
        }
    }
}

fn page(feed: &Feed, from: usize) -> String {
    let revoked: Vec<String> = feed.ended[from..]
        .iter()
        .map(|(sid, until)| format!(r#"{{"sid":"{sid}","until":{until}}}"#))
        .collect();
    format!(
        r#"{{"revoked":[{}],"cursor":"{}.{}"}}"#,
        revoked.join(","),
        feed.epoch,
        feed.ended.len()
    )
}
