//! `cargo run -p wxlogin-example-embed-tokio`: 16 tasks on a multi-threaded tokio runtime log in
//! through one shared `LoginService`, against the fake WeChat and a throwaway SQLite file.

use std::time::Duration;

use wxlogin_example_embed_tokio::{Setup, build_service, log_in_from_tasks};
use wxlogin_fake_wechat::{DEV_APPID, DEV_SECRET, FakeWeChat, FakeWeChatConfig};
use wxlogin_user_store::testing::TestDatabase;

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() -> anyhow::Result<()> {
    let wechat = FakeWeChat::new(FakeWeChatConfig::default()).start_in_background("127.0.0.1:0")?;
    let db = TestDatabase::sqlite();
    let service = build_service(&Setup {
        database_url: db.url(),
        wechat_api_base: &wechat.base_url(),
        appid: DEV_APPID,
        app_secret: DEV_SECRET,
        session_cache: Duration::from_secs(1),
    })
    .await?;
    let outcomes = log_in_from_tasks(&service, 16).await?;
    let threads: std::collections::HashSet<_> = outcomes.iter().map(|o| &o.thread).collect();
    for outcome in &outcomes {
        println!(
            "{}: logged in and authenticated as {}",
            outcome.code, outcome.authenticated_as
        );
    }
    println!(
        "{} tasks on {} threads shared one LoginService",
        outcomes.len(),
        threads.len()
    );
    Ok(())
}
