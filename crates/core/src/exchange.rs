//! Idempotent code exchange: the first answer to a `wx.login` code, kept while the code lives.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use sha2::{Digest, Sha256};

/// At most this many codes are remembered per generation (two generations are kept), so a
/// flood of logins cannot grow memory without bound: about 300 bytes each with their answer,
/// 2.4 MiB in all. Even at 4,000 logins a second on one instance a code is remembered for a
/// second, which covers a double tap or a retried request; a copy that comes later goes to
/// WeChat, which says the code was used, and its first answer is then found in the store
/// (`replay_from_elsewhere`), as on another instance.
const GENERATION_CAPACITY: usize = 4096;

/// What is needed to give a code's first answer again; no token is kept in memory.
#[derive(Debug, Clone)]
pub(crate) struct Replay {
    pub(crate) user_id: String,
    pub(crate) session_id: String,
    pub(crate) user_existed: bool,
    /// Unix seconds of the first answer: replays end `code_replay_secs` after it.
    pub(crate) answered_at: i64,
    /// The address the code came from first: only it gets the answer again.
    pub(crate) client: Option<IpAddr>,
}

/// SHA-256 of the appid and the code: how a code is remembered, here and in the store (codes
/// are one-time secrets), with the address of the client that sent it. Computed once per login.
pub(crate) struct CodeDigest {
    code: [u8; 32],
    client: Option<IpAddr>,
}

impl CodeDigest {
    pub(crate) fn of(appid: &str, code: &str, client: Option<IpAddr>) -> Self {
        Self {
            code: Sha256::new()
                .chain_update(appid.as_bytes())
                .chain_update([0])
                .chain_update(code.as_bytes())
                .finalize()
                .into(),
            // `::ffff:1.2.3.4` (a dual-stack socket's view) is `1.2.3.4`.
            client: client.map(|ip| ip.to_canonical()),
        }
    }

    /// As the store keeps it with the session the code opened, so that a copy reaching
    /// another instance from the same address finds that login, and one from another address
    /// finds nothing.
    pub(crate) fn with_client_hex(&self) -> String {
        let client = self.client.map(|ip| ip.to_string()).unwrap_or_default();
        let bound: [u8; 32] = Sha256::new()
            .chain_update(self.code)
            .chain_update([0])
            .chain_update(client.as_bytes())
            .finalize()
            .into();
        wxlogin_domain::to_hex(&bound)
    }
}

/// One code's slot: whoever holds the lock is exchanging it; once done, it holds the answer.
pub(crate) type Slot = Arc<tokio::sync::Mutex<Option<Replay>>>;

struct Generations {
    current: HashMap<[u8; 32], Slot>,
    current_since: i64,
    previous: HashMap<[u8; 32], Slot>,
}

/// The codes seen lately. Two generations: a code is remembered for between one and two
/// generation lengths (`replay_secs / 2` each), or less when the capacity is reached.
pub(crate) struct CodeExchanges {
    generations: Mutex<Generations>,
    generation_secs: i64,
}

impl CodeExchanges {
    pub(crate) fn new(replay_secs: i64) -> Self {
        Self {
            generations: Mutex::new(Generations {
                current: HashMap::new(),
                current_since: i64::MIN,
                previous: HashMap::new(),
            }),
            generation_secs: (replay_secs / 2).max(1),
        }
    }

    /// The slot of the code of `digest`, made if new.
    pub(crate) fn slot(&self, digest: &CodeDigest, now: i64) -> Slot {
        // By the code alone: copies from any address wait for the first exchange, and then
        // get its answer only if they come from its address.
        let key = digest.code;
        let mut g = self
            .generations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if now.saturating_sub(g.current_since) >= self.generation_secs
            || g.current.len() >= GENERATION_CAPACITY
        {
            g.previous = std::mem::take(&mut g.current);
            g.current_since = now;
        }
        if let Some(slot) = g.previous.get(&key).or_else(|| g.current.get(&key)) {
            return Arc::clone(slot);
        }
        Arc::clone(g.current.entry(key).or_default())
    }

    #[cfg(test)]
    fn remembered(&self) -> usize {
        let g = self
            .generations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        g.current.len() + g.previous.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(exchanges: &CodeExchanges, appid: &str, code: &str, now: i64) -> Slot {
        exchanges.slot(&CodeDigest::of(appid, code, None), now)
    }

    #[test]
    fn a_code_maps_to_one_slot_while_it_is_remembered() {
        let exchanges = CodeExchanges::new(300);
        let a = slot(&exchanges, "wxapp", "code-a", 1000);
        assert!(Arc::ptr_eq(&a, &slot(&exchanges, "wxapp", "code-a", 1100)));
        assert!(
            Arc::ptr_eq(&a, &slot(&exchanges, "wxapp", "code-a", 1200)),
            "kept in the previous generation"
        );
        assert!(!Arc::ptr_eq(&a, &slot(&exchanges, "wxapp", "code-b", 1200)));
    }

    #[test]
    fn the_stored_digest_is_bound_to_the_client() {
        let from = |ip: &str| CodeDigest::of("wxapp", "code", Some(ip.parse().expect("ip")));
        assert_eq!(
            from("203.0.113.7").with_client_hex(),
            from("203.0.113.7").with_client_hex()
        );
        assert_ne!(
            from("203.0.113.7").with_client_hex(),
            from("203.0.113.8").with_client_hex()
        );
        assert_ne!(
            from("203.0.113.7").with_client_hex(),
            CodeDigest::of("wxapp", "code", None).with_client_hex()
        );
        assert_eq!(
            from("::ffff:203.0.113.7").with_client_hex(),
            from("203.0.113.7").with_client_hex(),
            "an IPv4-mapped address is its IPv4 address"
        );
    }

    #[test]
    fn the_same_code_of_two_apps_is_two_exchanges() {
        let exchanges = CodeExchanges::new(300);
        let a = slot(&exchanges, "wxapp", "code", 1000);
        assert!(!Arc::ptr_eq(&a, &slot(&exchanges, "wxother", "code", 1000)));
    }

    #[test]
    fn a_code_is_forgotten_after_two_generations() {
        let exchanges = CodeExchanges::new(300);
        let a = slot(&exchanges, "wxapp", "code-a", 1000);
        slot(&exchanges, "wxapp", "other", 1150);
        slot(&exchanges, "wxapp", "other", 1300);
        assert!(!Arc::ptr_eq(&a, &slot(&exchanges, "wxapp", "code-a", 1301)));
    }

    #[test]
    fn memory_is_bounded_by_two_generations() {
        let exchanges = CodeExchanges::new(300);
        for i in 0..(3 * GENERATION_CAPACITY) {
            slot(&exchanges, "wxapp", &format!("code-{i}"), 1000);
        }
        assert!(exchanges.remembered() <= 2 * GENERATION_CAPACITY);
    }
}
