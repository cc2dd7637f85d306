//! The admin API's keys (`ADMIN_API_KEYS_FILE`): kept as digests, compared in constant time,
//! named in logs and the audit log by a fingerprint, never by the key.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The shortest key taken: a guessable key would open every account to a ban or a deletion.
pub const MIN_KEY_LEN: usize = 24;

/// The keys the admin API takes. `Debug` shows their fingerprints only.
#[derive(Clone, Default)]
pub struct AdminKeys {
    /// (digest, fingerprint) of each key.
    keys: Vec<([u8; 32], String)>,
}

impl std::fmt::Debug for AdminKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.keys.iter().map(|(_, name)| name))
            .finish()
    }
}

impl AdminKeys {
    /// The keys of a file: one per line; blank lines and lines starting with `#` skipped.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut keys = Vec::new();
        for (at, line) in text.lines().enumerate() {
            let key = line.trim();
            if key.is_empty() || key.starts_with('#') {
                continue;
            }
            if key.len() < MIN_KEY_LEN {
                return Err(format!(
                    "the key on line {} is shorter than {MIN_KEY_LEN} characters",
                    at + 1
                ));
            }
            let digest: [u8; 32] = Sha256::digest(key.as_bytes()).into();
            keys.push((digest, fingerprint(&digest)));
        }
        Ok(Self { keys })
    }

    /// Whether there is no key (every request refused).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The fingerprint of the key `presented` is, if it is one: every key is compared, in
    /// constant time, whichever matches.
    pub fn check(&self, presented: &str) -> Option<String> {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for (key, name) in &self.keys {
            if bool::from(key.ct_eq(&digest)) {
                found = Some(name.clone());
            }
        }
        found
    }
}

/// `key-` and the first 8 hex digits of the key's digest: enough to tell keys apart in the
/// audit log, nothing to guess the key from.
fn fingerprint(digest: &[u8; 32]) -> String {
    format!("key-{}", wxlogin_domain::to_hex(&digest[..4]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "a-long-enough-admin-key-0001";

    #[test]
    fn a_listed_key_is_known_by_its_fingerprint_only() {
        let keys = AdminKeys::parse(&format!("# operators\n\n{KEY}\n")).expect("keys");
        let name = keys.check(KEY).expect("known");
        assert!(name.starts_with("key-") && !name.contains(KEY));
        assert!(!format!("{keys:?}").contains(KEY));
    }

    #[test]
    fn other_keys_and_prefixes_are_refused() {
        let keys = AdminKeys::parse(KEY).expect("keys");
        assert_eq!(keys.check(&KEY[..KEY.len() - 1]), None);
        assert_eq!(keys.check(&format!("{KEY}x")), None);
        assert_eq!(keys.check(""), None);
    }

    #[test]
    fn short_keys_are_refused_when_read() {
        assert!(AdminKeys::parse("short").is_err());
        assert!(AdminKeys::parse("").expect("none").is_empty());
    }
}
