//! The bounded load: clients that request until told to stop, each outcome counted by phase,
//! and the check that acknowledged logins still answer.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use wxlogin_bench::harness::http;

use crate::WORKERS;

/// What each request got, by phase: `200`, `401 session_revoked`, `transport: refused`, ...
pub type Tally = Mutex<BTreeMap<(usize, String), u64>>;

pub struct Load {
    pub stop: AtomicBool,
    pub phase: AtomicUsize,
    pub tally: Tally,
    /// The token of every login the server acknowledged (200) under load: each must outlive
    /// the faults.
    pub acknowledged: Mutex<Vec<String>>,
}

/// One client: requests until told to stop, each outcome counted under the current phase.
pub fn drive(addr: SocketAddr, worker: usize, load: &Load, tokens: &[String]) {
    let mut n = 0usize;
    while !load.stop.load(Ordering::SeqCst) {
        n += 1;
        let phase = load.phase.load(Ordering::SeqCst);
        let outcome = if n.is_multiple_of(5) {
            let body = format!(r#"{{"code":"load{worker}.{n}-{}"}}"#, std::process::id());
            http(addr, "POST", "/api/login", None, Some(&body))
        } else {
            let token = &tokens[(worker * 7 + n) % tokens.len()];
            http(addr, "GET", "/api/me", Some(token), None)
        };
        let key = match outcome {
            Ok((status, body)) => {
                let reply = serde_json::from_str::<serde_json::Value>(&body).ok();
                if status == 200
                    && let Some(token) = reply.as_ref().and_then(|v| v["token"].as_str())
                {
                    load.acknowledged
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(token.to_owned());
                }
                let kind = reply.and_then(|v| v["error"].as_str().map(str::to_owned));
                match kind {
                    Some(kind) => format!("{status} {kind}"),
                    None => status.to_string(),
                }
            }
            Err(e) => {
                let refused = e
                    .downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused);
                if refused {
                    // The server is down (between SIGTERM and its restart): back off a little.
                    std::thread::sleep(Duration::from_millis(20));
                    "no server (connection refused)".to_owned()
                } else {
                    "connection lost mid-request".to_owned()
                }
            }
        };
        *load
            .tally
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((phase, key))
            .or_default() += 1;
    }
}

/// What each token that no longer answers 200 got instead (checked by `WORKERS` clients at once:
/// there can be thousands).
pub fn not_answering(addr: SocketAddr, tokens: &[String]) -> Vec<String> {
    let chunk = tokens.len().div_ceil(WORKERS).max(1);
    std::thread::scope(|scope| {
        let checkers: Vec<_> = tokens
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .filter_map(
                            |token| match http(addr, "GET", "/api/me", Some(token), None) {
                                Ok((200, _)) => None,
                                Ok((status, body)) => Some(format!("{status} {body}")),
                                Err(e) => Some(format!("transport: {e}")),
                            },
                        )
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        checkers
            .into_iter()
            .flat_map(|c| {
                c.join()
                    .unwrap_or_else(|_| vec!["a checker panicked".to_owned()])
            })
            .collect()
    })
}
