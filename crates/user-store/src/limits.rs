//! Limits counted once for every instance, on PostgreSQL: the GCRA counters and quota pauses
//! of the `rate_limits` table (UNLOGGED: a counter needs no durability, so spending one logs
//! nothing but its commit record, and waits for no fsync). SQLite is one process, whose limits
//! stay in its memory: it has none of these.

use async_trait::async_trait;
use diesel::sql_types::{BigInt, Text};
use diesel::{QueryableByName, RunQueryDsl};
use wxlogin_domain::{Cause, SharedLimits, StoreError};

use crate::DieselStore;
use crate::connection::AnyConnection;
use crate::database::Database;
use crate::error::DbResult;
use crate::limit_batches::TakeJob;

/// The window a limit's burst spans: `per_minute` calls at once, then one per interval.
const BURST_WINDOW_MS: i64 = 60_000;

const PAUSE: &str = "INSERT INTO rate_limits (key, tat) VALUES ($1, $2) \
     ON CONFLICT (key) DO UPDATE SET tat = GREATEST(rate_limits.tat, EXCLUDED.tat)";

const PAUSED: &str = "SELECT tat FROM rate_limits WHERE key = $1 AND tat > $2";

const PURGE: &str = "DELETE FROM rate_limits WHERE tat < $1";

/// [`SharedLimits`] on the store's PostgreSQL database: from [`DieselStore::shared_limits`].
/// Cheap to clone: clones share the store's pool.
#[derive(Clone)]
pub struct SharedRateLimits {
    store: DieselStore,
    /// The writer thread that counts attempts together (`limit_batches.rs`); it ends when the
    /// last clone is dropped.
    attempts: std::sync::mpsc::Sender<TakeJob>,
}

impl std::fmt::Debug for SharedRateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedRateLimits")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl DieselStore {
    /// The limits shared by every instance on this database, with a thread of their own that
    /// counts the attempts queued while it was busy in one statement; `None` on SQLite, which
    /// serves one process (its limits are that process's own), or if no thread can be started.
    pub fn shared_limits(&self) -> Option<SharedRateLimits> {
        if !self.url().is_postgres() {
            return None;
        }
        let (attempts, queue) = std::sync::mpsc::channel();
        let db = std::sync::Arc::downgrade(&self.db);
        let started = std::thread::Builder::new()
            .name("wxlogin-limits".into())
            .spawn(move || crate::limit_batches::count_attempts(db, queue));
        if let Err(e) = started {
            log::error!("the shared limits' thread could not start ({e}): limits are per process");
            return None;
        }
        Some(SharedRateLimits {
            store: self.clone(),
            attempts,
        })
    }
}

#[derive(QueryableByName)]
struct Tat {
    #[diesel(sql_type = BigInt)]
    #[allow(dead_code)] // Its presence is the answer; its value is for psql readers.
    tat: i64,
}

/// `60 s / per_minute`, at least a millisecond.
fn interval_ms(per_minute: u32) -> i64 {
    (BURST_WINDOW_MS / i64::from(per_minute.max(1))).max(1)
}

impl Database {
    /// Runs `work` on a PostgreSQL connection of the pool.
    fn on_postgres<R>(
        &self,
        work: impl FnOnce(&mut diesel::PgConnection) -> diesel::QueryResult<R>,
    ) -> DbResult<R> {
        match &mut *self.conn()? {
            AnyConnection::Postgresql(c) => Ok(work(c)?),
            AnyConnection::Sqlite(_) => Err(StoreError::Internal(Cause::msg(
                "shared limits asked of a SQLite store",
            ))
            .into()),
        }
    }

    fn pause_limit(&self, key: &str, until_ms: i64) -> DbResult<()> {
        self.on_postgres(|c| {
            diesel::sql_query(PAUSE)
                .bind::<Text, _>(key)
                .bind::<BigInt, _>(until_ms)
                .execute(c)
        })
        .map(drop)
    }

    fn limit_paused(&self, key: &str, now_ms: i64) -> DbResult<bool> {
        let rows = self.on_postgres(|c| {
            diesel::sql_query(PAUSED)
                .bind::<Text, _>(key)
                .bind::<BigInt, _>(now_ms)
                .load::<Tat>(c)
        })?;
        Ok(!rows.is_empty())
    }

    fn purge_limits(&self, now_ms: i64) -> DbResult<usize> {
        self.on_postgres(|c| {
            diesel::sql_query(PURGE)
                .bind::<BigInt, _>(now_ms)
                .execute(c)
        })
    }
}

#[async_trait]
impl SharedLimits for SharedRateLimits {
    async fn take(&self, key: &str, per_minute: u32, now_ms: i64) -> Result<bool, StoreError> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job = TakeJob {
            key: key.to_owned(),
            interval_ms: interval_ms(per_minute),
            now_ms,
            window_ms: BURST_WINDOW_MS,
            answer,
        };
        let gone = || StoreError::Unavailable(Cause::msg("the shared limits' thread is gone"));
        self.attempts.send(job).map_err(|_| gone())?;
        answered.await.map_err(|_| gone())?
    }

    async fn pause_until(&self, key: &str, until_ms: i64) -> Result<(), StoreError> {
        let key = key.to_owned();
        self.store
            .run(move |db| db.pause_limit(&key, until_ms))
            .await
    }

    async fn paused(&self, key: &str, now_ms: i64) -> Result<bool, StoreError> {
        let key = key.to_owned();
        self.store
            .run(move |db| db.limit_paused(&key, now_ms))
            .await
    }

    async fn purge(&self, now_ms: i64) -> Result<usize, StoreError> {
        self.store.run(move |db| db.purge_limits(now_ms)).await
    }
}
