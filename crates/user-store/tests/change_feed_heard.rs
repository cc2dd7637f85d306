//! PostgreSQL: the change feed counts as heard only when notifications really arrive.
//!
//! Behind a transaction-mode pooler (PgBouncer) a listener's queries are answered while the
//! notifications meant for it are lost. That is played here by a proxy in front of PostgreSQL
//! that passes everything but `NotificationResponse` messages. A feed listening through it
//! must never say [`StoreChange::Heard`] (a cache would then trust sessions for a minute after
//! another instance ended them); a feed with a direct connection (`listen_url`) must.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wxlogin_domain::{ChangeFeed, SessionStore, StoreChange};
use wxlogin_user_store::testing::{TestDatabase, audit_at, test_sealer};
use wxlogin_user_store::{DatabaseUrl, DieselStore, PoolOptions};

/// A TCP proxy to PostgreSQL that drops every notification the server sends; stopped (and its
/// threads ended) when dropped.
struct LossyPooler {
    port: u16,
    stop: Arc<AtomicBool>,
    streams: Arc<Mutex<Vec<TcpStream>>>,
}

impl LossyPooler {
    fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let streams = Arc::new(Mutex::new(Vec::new()));
        let (stopped, open) = (Arc::clone(&stop), Arc::clone(&streams));
        std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                let Ok((client, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                client.set_nonblocking(false).expect("blocking");
                let server = TcpStream::connect(&upstream).expect("PostgreSQL");
                open.lock().expect("streams").extend([
                    client.try_clone().expect("clone"),
                    server.try_clone().expect("clone"),
                ]);
                let (mut to_server, mut from_client) = (
                    server.try_clone().expect("clone"),
                    client.try_clone().expect("clone"),
                );
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from_client, &mut to_server);
                    let _ = to_server.shutdown(Shutdown::Write);
                });
                std::thread::spawn(move || forward_without_notifications(server, client));
            }
        });
        Self {
            port,
            stop,
            streams,
        }
    }
}

/// Copies the server's messages (a type byte, a length, the rest) to the client, all but
/// `NotificationResponse` ('A'). With `sslmode=disable` every byte the server sends is framed so.
fn forward_without_notifications(mut server: TcpStream, mut client: TcpStream) {
    loop {
        let mut header = [0u8; 5];
        if server.read_exact(&mut header).is_err() {
            break;
        }
        let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
        let mut body = vec![0u8; len.saturating_sub(4)];
        if server.read_exact(&mut body).is_err() {
            break;
        }
        if header[0] == b'A' {
            continue;
        }
        if client.write_all(&header).is_err() || client.write_all(&body).is_err() {
            break;
        }
    }
    let _ = client.shutdown(Shutdown::Both);
}

impl Drop for LossyPooler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for stream in self.streams.lock().expect("streams").drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// Counts what a subscription hears for `within`, while another connection ends a session.
async fn heard_through(store: &DieselStore, within: Duration) -> (usize, bool) {
    let heard = Arc::new(AtomicUsize::new(0));
    let ended = Arc::new(AtomicBool::new(false));
    let (h, e) = (Arc::clone(&heard), Arc::clone(&ended));
    let _subscription = store
        .subscribe(Box::new(move |change| match change {
            StoreChange::Heard => {
                h.fetch_add(1, Ordering::SeqCst);
            }
            StoreChange::SessionEnded(_) => e.store(true, Ordering::SeqCst),
            _ => {}
        }))
        .expect("subscribed")
        .expect("PostgreSQL has a feed");
    let login = store
        .open_login(&wxlogin_domain::NewLogin {
            appid: "wxapp".into(),
            openid: wxlogin_domain::OpenId::new("openid-heard"),
            unionid: None,
            session_key: wxlogin_domain::SessionKey::new("k"),
            created_at: 1_800_000_000,
            expires_at: 1_800_003_600,
            login_code: None,
            client_addr: None,
        })
        .await
        .expect("login");
    let start = Instant::now();
    tokio::time::sleep(Duration::from_millis(600)).await;
    store
        .revoke_session(&login.session.id, &audit_at(1_800_000_001))
        .await
        .expect("logout");
    tokio::time::sleep(within.saturating_sub(start.elapsed())).await;
    (heard.load(Ordering::SeqCst), ended.load(Ordering::SeqCst))
}

fn with_listen_url(url: String) -> PoolOptions {
    PoolOptions {
        listen_url: Some(DatabaseUrl::parse(&url).expect("url")),
        ..PoolOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_whose_notifications_are_lost_is_never_heard() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    let mut direct = url::Url::parse(db.url()).expect("url");
    let upstream = format!(
        "{}:{}",
        direct.host_str().expect("host"),
        direct.port().unwrap_or(5432)
    );
    let pooler = LossyPooler::start(upstream);
    direct.set_port(Some(pooler.port)).expect("port");
    direct.query_pairs_mut().append_pair("sslmode", "disable");
    let (store, _) = DieselStore::open(
        db.url(),
        &with_listen_url(direct.to_string()),
        test_sealer(),
    )
    .await
    .expect("store");
    let (heard, ended) = heard_through(&store, Duration::from_secs(2)).await;
    assert!(!ended, "the proxy loses notifications");
    assert_eq!(heard, 0, "queries answered, but nothing was heard");
    drop(store);
    drop(pooler);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_on_a_direct_connection_is_heard() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    let (store, _) = DieselStore::open(
        db.url(),
        &with_listen_url(db.url().to_owned()),
        test_sealer(),
    )
    .await
    .expect("store");
    let (heard, ended) = heard_through(&store, Duration::from_secs(2)).await;
    assert!(ended, "the logout was heard");
    assert!(heard >= 2, "heard {heard} times in 2 s");
}
