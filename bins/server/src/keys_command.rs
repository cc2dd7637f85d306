//! `wxlogin-server keys list` and `keys rotate`: the token signing keys, for operators, through
//! the same store and key ring the server uses. Never key material.

use wxlogin_domain::{Clock, SystemClock};
use wxlogin_token::KeyInfo;

use crate::config::Config;
use crate::database::open_store;
use crate::signing_keys::key_ring;

/// What `keys` was asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeysCommand {
    /// Show every key: kid, generation, algorithm, state, dates.
    List,
    /// Make the next key now (published at once, signing a publication lead later).
    Rotate,
}

impl KeysCommand {
    /// The command `args` (after `keys`) name.
    pub fn parse(args: &[String]) -> Option<Self> {
        match args {
            [one] if one == "list" => Some(Self::List),
            [one] if one == "rotate" => Some(Self::Rotate),
            _ => None,
        }
    }

    /// Runs it against the configured database, writing to stdout.
    pub async fn run(self, config: &Config) -> anyhow::Result<()> {
        let store = open_store(config).await?;
        let ring = key_ring(config);
        let now = SystemClock.now();
        match self {
            Self::List => {
                // Read only: an operator's shell with another TOKEN_ALG makes no key.
                ring.read(&store).await?;
                print!("{}", table(&ring.list(now)));
            }
            Self::Rotate => {
                let (key, made) = ring.rotate(&store, now).await?;
                if made {
                    println!(
                        "made key {} ({}): published now, signing from {}",
                        key.kid,
                        key.algorithm,
                        crate::routes::rfc3339(key.signs_from)
                    );
                } else {
                    println!(
                        "key {} is already pending: it signs from {}",
                        key.kid,
                        crate::routes::rfc3339(key.signs_from)
                    );
                }
            }
        }
        Ok(())
    }
}

fn table(keys: &[KeyInfo]) -> String {
    let mut out = format!(
        "{:<34} {:>3} {:<6} {:<8} {:<20} {:<20} {}\n",
        "KID", "GEN", "ALG", "STATE", "CREATED", "SIGNS FROM", "PUBLISHED UNTIL"
    );
    for key in keys {
        out.push_str(&format!(
            "{:<34} {:>3} {:<6} {:<8} {:<20} {:<20} {}\n",
            key.kid,
            key.generation,
            key.algorithm,
            key.state.name(),
            crate::routes::rfc3339(key.created_at),
            crate::routes::rfc3339(key.signs_from),
            key.published_until
                .map_or_else(|| "-".to_owned(), crate::routes::rfc3339),
        ));
    }
    out
}
