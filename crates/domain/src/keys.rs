//! The keys login tokens are signed with, as the store keeps them: shared by every instance,
//! so that each signs with the same key and publishes the same set.

use async_trait::async_trait;

use crate::{PrivateKey, StoreError};

/// A token signing key as stored (the store seals its private half at rest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSigningKey {
    /// The key's id, in every token it signs (`kid`) and in the published key set.
    pub kid: String,
    /// Its place in the sequence of keys (1, 2, ...): unique, so that instances rotating at
    /// the same moment make one key, not one each.
    pub generation: i64,
    /// The JWS algorithm: `EdDSA` or `ES256`.
    pub algorithm: String,
    /// The private key, as the algorithm serialises it.
    pub private_key: PrivateKey,
    /// Unix seconds at which it was made (and published).
    pub created_at: i64,
    /// Unix seconds from which it signs: it is published before then, so that verifiers that
    /// cache the key set know it before they see its tokens.
    pub signs_from: i64,
}

/// Where the signing keys are kept, for every instance to find.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait SigningKeyStore: Send + Sync {
    /// Every stored key, by generation.
    async fn signing_keys(&self) -> Result<Vec<StoredSigningKey>, StoreError>;
    /// Stores a new key; `false` if one with its kid or generation exists already (another
    /// instance was first: read the keys again).
    async fn add_signing_key(&self, key: &StoredSigningKey) -> Result<bool, StoreError>;
}
