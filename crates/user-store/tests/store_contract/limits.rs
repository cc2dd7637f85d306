//! Limits shared by every instance (PostgreSQL): a GCRA counter per key, quota pauses, and the
//! purge; SQLite, one process, has none.

use wxlogin_domain::SharedLimits;
use wxlogin_user_store::testing::TestDatabase;
use wxlogin_user_store::{DieselStore, SharedRateLimits};

use crate::support::open;

contract!(
    ;
    only_postgres_shares_limits,
    a_limit_allows_its_burst_then_refuses_and_a_refusal_spends_nothing,
    two_stores_on_one_database_share_one_count,
    pauses_hold_until_their_end_and_are_never_shortened,
    the_purge_forgets_only_what_is_back_to_a_full_allowance,
    attempts_counted_together_allow_the_limit_exactly,
);

/// A unix millisecond far from zero.
const T: i64 = 1_800_000_000_000;

/// The store's shared limits; `None` on SQLite.
async fn shared(db: &TestDatabase) -> Option<(DieselStore, SharedRateLimits)> {
    let store = open(db).await;
    let limits = store.shared_limits()?;
    Some((store, limits))
}

async fn take(limits: &SharedRateLimits, key: &str, at: i64) -> bool {
    limits.take(key, 5, at).await.expect("the database answers")
}

async fn only_postgres_shares_limits(db: &TestDatabase) {
    let store = open(db).await;
    assert_eq!(
        store.shared_limits().is_some(),
        db.url().starts_with("postgres"),
        "PostgreSQL shares limits; SQLite keeps them per process"
    );
}

async fn a_limit_allows_its_burst_then_refuses_and_a_refusal_spends_nothing(db: &TestDatabase) {
    let Some((_store, limits)) = shared(db).await else {
        return;
    };
    for i in 0..5 {
        assert!(take(&limits, "login:203.0.113.9", T + i).await, "call {i}");
    }
    for i in 0..20 {
        assert!(
            !take(&limits, "login:203.0.113.9", T + 10 + i).await,
            "past 5 a minute"
        );
    }
    assert!(
        take(&limits, "login:203.0.113.10", T + 40).await,
        "another key has its own count"
    );
    // 5 a minute: one more every 12 s. The 20 refusals spent nothing, or this would be refused.
    assert!(!take(&limits, "login:203.0.113.9", T + 11_999).await);
    assert!(take(&limits, "login:203.0.113.9", T + 12_000).await);
    assert!(
        !take(&limits, "login:203.0.113.9", T + 12_001).await,
        "one refilled, one spent"
    );
    for i in 0..5 {
        assert!(
            take(&limits, "login:203.0.113.9", T + 120_000 + i).await,
            "a quiet minute refills the whole burst: call {i}"
        );
    }
}

async fn two_stores_on_one_database_share_one_count(db: &TestDatabase) {
    let Some((_a_store, a)) = shared(db).await else {
        return;
    };
    // A second pool on the same database: another instance.
    let Some((_b_store, b)) = shared(db).await else {
        return;
    };
    for i in 0..5 {
        let on = if i % 2 == 0 { &a } else { &b };
        assert!(take(on, "user:u1", T + i).await, "call {i}");
    }
    assert!(
        !take(&a, "user:u1", T + 10).await,
        "the sixth is refused on A"
    );
    assert!(
        !take(&b, "user:u1", T + 10).await,
        "and on B: the instances share one count"
    );
}

async fn pauses_hold_until_their_end_and_are_never_shortened(db: &TestDatabase) {
    let Some((_store, limits)) = shared(db).await else {
        return;
    };
    let key = "pause:content_check:wxapp";
    assert!(!limits.paused(key, T).await.expect("read"));
    limits.pause_until(key, T + 60_000).await.expect("pause");
    limits.pause_until(key, T + 1_000).await.expect("pause");
    assert!(limits.paused(key, T + 59_999).await.expect("read"));
    assert!(
        !limits.paused(key, T + 60_000).await.expect("read"),
        "over at its end"
    );
    assert!(
        !limits
            .paused("pause:content_check:other", T)
            .await
            .expect("read"),
        "another app is not paused"
    );
}

async fn the_purge_forgets_only_what_is_back_to_a_full_allowance(db: &TestDatabase) {
    let Some((_store, limits)) = shared(db).await else {
        return;
    };
    // One call at T: full again at T + 12 s. Five at T + 30 s: full again at T + 90 s.
    assert!(take(&limits, "login:a", T).await);
    for i in 0..5 {
        assert!(take(&limits, "login:b", T + 30_000 + i).await);
    }
    limits
        .pause_until("pause:phone:wxapp", T + 86_400_000)
        .await
        .expect("pause");
    assert_eq!(limits.purge(T + 40_000).await.expect("purge"), 1);
    assert!(
        !take(&limits, "login:b", T + 40_000).await,
        "a counter still spent is kept"
    );
    assert!(
        limits
            .paused("pause:phone:wxapp", T + 40_000)
            .await
            .expect("read")
    );
    assert_eq!(limits.purge(T + 86_400_001).await.expect("purge"), 2);
}

/// Attempts that arrive at once are counted together (one statement for many): of 40 at once
/// on one key with 5 a minute, exactly 5 pass, whichever way the batches fall; other keys
/// counted beside them keep their own counts.
async fn attempts_counted_together_allow_the_limit_exactly(db: &TestDatabase) {
    let Some((_store, limits)) = shared(db).await else {
        return;
    };
    let attempts = (0..40).map(|i| {
        let limits = limits.clone();
        tokio::spawn(async move {
            let key = if i % 2 == 0 {
                "login:hot"
            } else {
                "login:other"
            };
            (
                key,
                limits.take(key, 5, T).await.expect("the database answers"),
            )
        })
    });
    let mut allowed = std::collections::HashMap::new();
    for attempt in attempts.collect::<Vec<_>>() {
        let (key, passed) = attempt.await.expect("ran");
        *allowed.entry(key).or_insert(0) += usize::from(passed);
    }
    assert_eq!(allowed["login:hot"], 5);
    assert_eq!(allowed["login:other"], 5);
}
