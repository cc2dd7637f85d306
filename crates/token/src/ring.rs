//! The keys every instance signs and verifies with, read from the store they share: made when
//! there are none, rotated on schedule or on command, published, retired and deleted as
//! [`KeyPolicy`] says.

use std::sync::{Arc, PoisonError, RwLock};

use wxlogin_domain::{SigningKeyStore, StoreError, TokenError};

use crate::keys::SigningKey;
use crate::policy::{self, KeyPolicy, KeyState, PUBLISH_LEAD_SECS, Timing};

/// Why the keys could not be read, made or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The store failed.
    #[error("the signing keys could not be read or stored")]
    Store(#[from] StoreError),
    /// A stored key cannot be used (unknown algorithm, damaged), or a new one not made.
    #[error("a signing key cannot be used")]
    Key(#[from] TokenError),
    /// Keys are not made where tokens are HS256 (`TOKEN_ALG=HS256`).
    #[error("no signing keys are made while tokens are HS256 (TOKEN_ALG=HS256)")]
    NotMade,
}

/// A key as `keys list` shows it: never its material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// Its id.
    pub kid: String,
    /// Its place in the sequence of keys.
    pub generation: i64,
    /// Its JWS algorithm.
    pub algorithm: &'static str,
    /// Where it stands.
    pub state: KeyState,
    /// Unix seconds at which it was made and published.
    pub created_at: i64,
    /// Unix seconds from which it signs.
    pub signs_from: i64,
    /// Unix seconds until which it stays published, once it is retired.
    pub published_until: Option<i64>,
}

/// What a [`KeyRing::sync`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// The key it made, if it made one.
    pub made: Option<String>,
}

#[derive(Default)]
struct Loaded {
    /// By generation.
    keys: Vec<Arc<SigningKey>>,
    timings: Vec<Timing>,
}

impl Loaded {
    fn new(mut keys: Vec<SigningKey>) -> Self {
        keys.sort_by_key(|k| k.generation);
        let timings = keys
            .iter()
            .map(|k| Timing {
                generation: k.generation,
                signs_from: k.signs_from,
                algorithm: k.algorithm,
            })
            .collect();
        Self {
            keys: keys.into_iter().map(Arc::new).collect(),
            timings,
        }
    }
}

/// The signing keys of a deployment, as this instance last read them.
pub struct KeyRing {
    policy: KeyPolicy,
    loaded: RwLock<Arc<Loaded>>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("policy", &self.policy)
            .field("keys", &self.snapshot().keys.len())
            .finish_non_exhaustive()
    }
}

impl KeyRing {
    /// An empty ring: call [`Self::sync`] before signing, and every [`policy::KEY_SYNC_SECS`].
    pub fn new(policy: KeyPolicy) -> Self {
        Self {
            policy,
            loaded: RwLock::new(Arc::default()),
        }
    }

    /// Its policy.
    pub fn policy(&self) -> &KeyPolicy {
        &self.policy
    }

    fn snapshot(&self) -> Arc<Loaded> {
        self.loaded
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn install(&self, loaded: Loaded) {
        *self.loaded.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(loaded);
    }

    async fn load(&self, store: &dyn SigningKeyStore) -> Result<Loaded, KeyError> {
        let stored = store.signing_keys().await?;
        let keys = stored
            .iter()
            .map(SigningKey::restore)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Loaded::new(keys))
    }

    /// Reads the stored keys; makes the next one if the policy says so (the first at once, a
    /// rotation a publication lead ahead); and uses what is stored then. Expired keys are kept
    /// (unpublished): a dozen rows a year, and the first one's date bounds the v2 tokens an
    /// upgrade still accepts. Any instance may run it; instances running it together
    /// make one key (generations are unique).
    pub async fn sync(
        &self,
        store: &dyn SigningKeyStore,
        now: i64,
    ) -> Result<SyncReport, KeyError> {
        let mut loaded = self.load(store).await?;
        let mut report = SyncReport::default();
        if let Some(signs_from) = self.policy.next_key(&loaded.timings, now) {
            if let Some(kid) = self.make(store, &loaded, now, signs_from).await? {
                report.made = Some(kid);
            }
            loaded = self.load(store).await?;
        }
        self.install(loaded);
        Ok(report)
    }

    /// Reads the stored keys and uses them, making none (`keys list`).
    pub async fn read(&self, store: &dyn SigningKeyStore) -> Result<(), KeyError> {
        self.install(self.load(store).await?);
        Ok(())
    }

    /// Makes a key of the policy's algorithm that signs a publication lead from now, whatever
    /// the schedule (`keys rotate`), unless one is pending already; says which, and whether it
    /// is new. [`KeyError::NotMade`] where the policy makes no keys (HS256).
    pub async fn rotate(
        &self,
        store: &dyn SigningKeyStore,
        now: i64,
    ) -> Result<(KeyInfo, bool), KeyError> {
        if !self.policy.make_keys {
            return Err(KeyError::NotMade);
        }
        let loaded = self.load(store).await?;
        let pending = loaded.timings.iter().any(|k| k.signs_from > now);
        let mut made = None;
        if !pending {
            let signs_from = if loaded.keys.is_empty() {
                now
            } else {
                now + PUBLISH_LEAD_SECS
            };
            made = self.make(store, &loaded, now, signs_from).await?;
        }
        self.install(self.load(store).await?);
        let list = self.list(now);
        let newest = match &made {
            Some(kid) => list.iter().find(|k| &k.kid == kid),
            None => list.iter().max_by_key(|k| k.generation),
        }
        .cloned()
        .ok_or_else(|| {
            KeyError::Key(TokenError::Signing(wxlogin_domain::Cause::msg(
                "no key after a rotation",
            )))
        })?;
        Ok((newest, made.is_some()))
    }

    async fn make(
        &self,
        store: &dyn SigningKeyStore,
        loaded: &Loaded,
        now: i64,
        signs_from: i64,
    ) -> Result<Option<String>, KeyError> {
        let generation = loaded
            .timings
            .iter()
            .map(|k| k.generation)
            .max()
            .unwrap_or(0)
            + 1;
        let (_, stored) = SigningKey::generate(self.policy.algorithm, generation, now, signs_from)?;
        // `false`: another instance made this generation first; the caller reads it.
        Ok(store
            .add_signing_key(&stored)
            .await?
            .then(|| stored.kid.clone()))
    }

    /// The keys and where each stands at `now`.
    pub fn list(&self, now: i64) -> Vec<KeyInfo> {
        let loaded = self.snapshot();
        loaded
            .keys
            .iter()
            .enumerate()
            .map(|(index, key)| KeyInfo {
                kid: key.kid.clone(),
                generation: key.generation,
                algorithm: key.algorithm.name(),
                state: self.policy.state(&loaded.timings, index, now),
                created_at: key.created_at,
                signs_from: key.signs_from,
                published_until: policy::retired_at(&loaded.timings, index, now)
                    .map(|at| self.policy.last_token_of(at)),
            })
            .collect()
    }

    /// The published key set at `now` (RFC 7517): every key that may have signed a live token
    /// or will sign soon, public halves only.
    pub fn jwks(&self, now: i64) -> serde_json::Value {
        let loaded = self.snapshot();
        let keys: Vec<serde_json::Value> = loaded
            .keys
            .iter()
            .enumerate()
            .filter(|(index, _)| {
                self.policy.state(&loaded.timings, *index, now) != KeyState::Expired
            })
            .map(|(_, key)| key.jwk.clone())
            .collect();
        serde_json::json!({ "keys": keys })
    }

    /// The key that signs at `now`.
    pub(crate) fn signer(&self, now: i64) -> Option<Arc<SigningKey>> {
        let loaded = self.snapshot();
        policy::signer(&loaded.timings, now).map(|index| loaded.keys[index].clone())
    }

    /// The key named `kid`, if it is still published at `now`.
    pub(crate) fn verifier(&self, kid: &str, now: i64) -> Option<Arc<SigningKey>> {
        let loaded = self.snapshot();
        let index = loaded.keys.iter().position(|k| k.kid == kid)?;
        (self.policy.state(&loaded.timings, index, now) != KeyState::Expired)
            .then(|| loaded.keys[index].clone())
    }

    /// When the first asymmetric key was made: the v2 (HS256) tokens an upgrade keeps valid
    /// were issued before then.
    pub(crate) fn first_made_at(&self) -> Option<i64> {
        self.snapshot().keys.iter().map(|k| k.created_at).min()
    }
}
