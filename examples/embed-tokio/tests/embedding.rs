//! The documented way in: one service in an `Arc`, used from tasks on every thread of a
//! multi-threaded tokio runtime, on SQLite and on PostgreSQL.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use wxlogin::CoreError;
use wxlogin_example_embed_tokio::{Setup, build_service, log_in_from_tasks};
use wxlogin_fake_wechat::{BackgroundFake, DEV_APPID, DEV_SECRET, FakeWeChat, FakeWeChatConfig};
use wxlogin_user_store::testing::TestDatabase;

fn fake() -> (FakeWeChat, BackgroundFake) {
    let fake = FakeWeChat::new(FakeWeChatConfig::default());
    let running = fake
        .clone()
        .start_in_background("127.0.0.1:0")
        .expect("fake starts");
    (fake, running)
}

fn setup<'a>(db: &'a TestDatabase, wechat: &'a str, cache: Duration) -> Setup<'a> {
    Setup {
        database_url: db.url(),
        wechat_api_base: wechat,
        appid: DEV_APPID,
        app_secret: DEV_SECRET,
        session_cache: cache,
    }
}

async fn sixteen_tasks_log_in_and_authenticate_through_one_shared_service(db: &TestDatabase) {
    let (fake, running) = fake();
    let base = running.base_url();
    let service = build_service(&setup(db, &base, Duration::from_secs(1)))
        .await
        .expect("service builds");

    let outcomes = log_in_from_tasks(&service, 16).await.expect("every task");

    assert_eq!(outcomes.len(), 16);
    for outcome in &outcomes {
        assert_eq!(outcome.logged_in_as, outcome.authenticated_as);
    }
    let users: HashSet<_> = outcomes.iter().map(|o| &o.logged_in_as).collect();
    assert_eq!(users.len(), 16, "one account per person");
    assert_eq!(fake.code2session_calls(), 16);
}

/// One process serves a SQLite file, so only PostgreSQL has other instances to hear.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_embedder_on_postgres_hears_other_instances_logouts_through_the_builder() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    let db = &db;
    let (_fake, running) = fake();
    let base = running.base_url();
    // A minute-long cache: only the change feed can make B honour A's logout within a second.
    let a = build_service(&setup(db, &base, Duration::from_secs(60)))
        .await
        .expect("instance A");
    let b = build_service(&setup(db, &base, Duration::from_secs(60)))
        .await
        .expect("instance B");
    let login = a.login(None, "dora").await.expect("login");
    b.authenticate(&login.token).await.expect("B caches it");

    let caller = a.authenticate(&login.token).await.expect("A");
    a.logout(&caller).await.expect("logout on A");

    let since = Instant::now();
    loop {
        match b.authenticate(&login.token).await {
            Err(CoreError::SessionRevoked) => break,
            Ok(_) if since.elapsed() < Duration::from_secs(1) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => panic!("B still answered {other:?} after {:?}", since.elapsed()),
        }
    }
}

macro_rules! on_both_databases {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() { super::$case(&super::TestDatabase::sqlite()).await; })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                if let Some(db) = super::TestDatabase::postgres() { super::$case(&db).await; }
            })*
        }
    };
}

on_both_databases!(sixteen_tasks_log_in_and_authenticate_through_one_shared_service);
