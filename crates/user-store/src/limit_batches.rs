//! The shared limits' writer thread: the attempts that queue while it is busy are counted
//! together, in one statement, as logins are committed together (`group_commit.rs`). An
//! attempt counted alone was a round trip and a transaction of its own on every login: a
//! third of the login rate on PostgreSQL (docs/performance.md).

use std::collections::HashMap;

use diesel::QueryableByName;
use diesel::RunQueryDsl;
use diesel::sql_types::Text;
use wxlogin_domain::{Cause, StoreError};

use crate::connection::AnyConnection;
use crate::database::Database;
use crate::error::DbResult;
use crate::prepared::{Bind, Statement};

/// The most attempts one statement counts.
const MOST_PER_BATCH: usize = 256;
/// How long the thread waits after an attempt for others to count with it. Attempts arrive
/// while logins are spread over their WeChat call and commit, so few queue on their own (a
/// statement for one or two was most of the cost left, docs/performance.md); half a
/// millisecond more on a login lets several share one statement.
const LINGER: std::time::Duration = std::time::Duration::from_millis(1);

/// GCRA for many keys in one statement: each row proposes its key and its cost (the
/// intervals of the attempts it counts); a key whose allowance holds them all takes them, and
/// comes back; one that cannot is left as it was (it spends nothing). A new key's row is
/// inserted only when its cost fits the window. `EXCLUDED.tat - now` is the row's cost. The
/// keys of one statement are distinct (a row cannot be updated twice by one statement).
/// `?`s: now, the keys, the costs, the window, now five times, the window.
const TAKE_BATCH: &str = "\
    INSERT INTO rate_limits AS t (key, tat) \
    SELECT r.key, ? + r.cost FROM unnest(?::text[], ?::bigint[]) AS r (key, cost) \
    WHERE r.cost <= ? \
    ON CONFLICT (key) DO UPDATE SET tat = GREATEST(t.tat, ?) + (EXCLUDED.tat - ?) \
    WHERE GREATEST(t.tat, ?) + (EXCLUDED.tat - ?) - ? <= ? \
    RETURNING t.key";

/// One attempt waiting for the writer thread, and where its answer goes.
pub(crate) struct TakeJob {
    pub(crate) key: String,
    /// `60 s / per_minute`: what the attempt costs.
    pub(crate) interval_ms: i64,
    pub(crate) now_ms: i64,
    /// The window a key's burst spans.
    pub(crate) window_ms: i64,
    pub(crate) answer: tokio::sync::oneshot::Sender<Result<bool, StoreError>>,
}

#[derive(QueryableByName)]
struct Taken {
    #[diesel(sql_type = Text)]
    key: String,
}

/// The writer thread: counts the attempts that queued while it was counting, answers them,
/// and ends when the limits are dropped.
pub(crate) fn count_attempts(
    db: std::sync::Weak<Database>,
    queue: std::sync::mpsc::Receiver<TakeJob>,
) {
    crate::group_commit::serve_batches(db, queue, MOST_PER_BATCH, LINGER, |db, batch| {
        let answers = take_together(db, &batch);
        for (job, answer) in batch.into_iter().zip(answers) {
            // The caller may have gone (a request cancelled): nothing to tell.
            let _ = job.answer.send(answer);
        }
    });
}

/// How one key's attempts of a batch are asked for in the next round.
enum Ask {
    /// As many of them at once as fit the window.
    Together,
    /// One at a time: together they did not fit.
    Alone,
}

/// Each attempt of `batch`, allowed or not, in as few statements as the keys allow: one
/// when every key's attempts fit its allowance.
fn take_together(db: &Database, batch: &[TakeJob]) -> Vec<Result<bool, StoreError>> {
    let mut answers: Vec<Option<Result<bool, StoreError>>> = batch.iter().map(|_| None).collect();
    // Each key's attempts, in the order they came, and how to ask for them.
    let mut keys: Vec<(&str, Vec<usize>, Ask)> = Vec::new();
    let mut index_of: HashMap<&str, usize> = HashMap::new();
    for (i, job) in batch.iter().enumerate() {
        let at = *index_of.entry(&job.key).or_insert_with(|| {
            keys.push((&job.key, Vec::new(), Ask::Together));
            keys.len() - 1
        });
        keys[at].1.push(i);
    }
    let now = batch.iter().map(|job| job.now_ms).max().unwrap_or(0);
    let window = batch.first().map_or(60_000, |job| job.window_ms);
    while !keys.is_empty() {
        // This round: for each key, the attempts asked for at once.
        let round: Vec<(usize, usize)> = keys
            .iter()
            .enumerate()
            .map(|(k, (_, attempts, ask))| {
                let count = match ask {
                    Ask::Alone => 1,
                    Ask::Together => {
                        let mut cost = 0;
                        attempts
                            .iter()
                            .take_while(|&&i| {
                                cost += batch[i].interval_ms;
                                cost <= window
                            })
                            .count()
                            .max(1)
                    }
                };
                (k, count)
            })
            .collect();
        let rows: Vec<(&str, i64)> = round
            .iter()
            .map(|&(k, count)| {
                let (key, attempts, _) = &keys[k];
                let cost = attempts[..count]
                    .iter()
                    .map(|&i| batch[i].interval_ms)
                    .sum();
                (*key, cost)
            })
            .collect();
        let taken = match take_rows(db, &rows, now, window) {
            Ok(taken) => taken,
            Err(e) => {
                // Every attempt not answered yet gets the failure: the callers decide alone.
                let failure = StoreError::from(e);
                return answers
                    .into_iter()
                    .map(|answer| answer.unwrap_or_else(|| Err(failure.clone())))
                    .collect();
            }
        };
        let mut next = Vec::with_capacity(keys.len());
        for ((key, mut attempts, ask), (_, count)) in keys.into_iter().zip(round) {
            if taken.contains(key) {
                for i in attempts.drain(..count) {
                    answers[i] = Some(Ok(true));
                }
                if !attempts.is_empty() {
                    next.push((key, attempts, ask));
                }
            } else if count == 1 {
                // Not even one fits: none of the later ones will, at the same moment.
                for i in attempts {
                    answers[i] = Some(Ok(false));
                }
            } else {
                next.push((key, attempts, Ask::Alone));
            }
        }
        keys = next;
    }
    answers
        .into_iter()
        .map(|answer| answer.unwrap_or(Ok(false)))
        .collect()
}

/// One statement: the keys of `rows` that took their cost.
fn take_rows(
    db: &Database,
    rows: &[(&str, i64)],
    now: i64,
    window: i64,
) -> DbResult<std::collections::HashSet<String>> {
    let mut conn = db.conn()?;
    let AnyConnection::Postgresql(c) = &mut *conn else {
        return Err(
            StoreError::Internal(Cause::msg("shared limits asked of a SQLite store")).into(),
        );
    };
    let keys: Vec<&str> = rows.iter().map(|(key, _)| *key).collect();
    let costs: Vec<i64> = rows.iter().map(|(_, cost)| *cost).collect();
    let taken = Statement::new(
        TAKE_BATCH,
        vec![
            Bind::BigInt(now),
            Bind::TextArray(keys),
            Bind::BigIntArray(costs),
            Bind::BigInt(window),
            Bind::BigInt(now),
            Bind::BigInt(now),
            Bind::BigInt(now),
            Bind::BigInt(now),
            Bind::BigInt(now),
            Bind::BigInt(window),
        ],
    )
    .load::<Taken>(c)?;
    Ok(taken.into_iter().map(|row| row.key).collect())
}
