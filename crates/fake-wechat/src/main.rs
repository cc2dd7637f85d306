//! `wxlogin-fake-wechat`: the fake WeChat API as a standalone server.
//!
//! `FAKE_WECHAT_ADDR` (default `127.0.0.1:9800`) is where it listens; `FAKE_WECHAT_APPS` (1 to
//! 3, default 1) how many of the dev mini programs it plays, as `wxlogin-server --dev` does;
//! `FAKE_WECHAT_PUSH_URL` (optional, e.g. `http://127.0.0.1:8080/wechat/push/{appid}`, with
//! `{appid}` replaced by each app's) where media checks push their verdicts.

use wxlogin_fake_wechat::{FakeWeChat, FakeWeChatConfig};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let addr = std::env::var("FAKE_WECHAT_ADDR").unwrap_or_else(|_| "127.0.0.1:9800".into());
    let apps = std::env::var("FAKE_WECHAT_APPS")
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(1);
    let config = FakeWeChatConfig::dev(apps);
    let appids: Vec<&str> = config.apps.iter().map(|app| app.appid.as_str()).collect();
    log::info!(
        "fake WeChat for {} listening on http://{addr} (secret: the default dev secret)",
        appids.join(", ")
    );
    let fake = FakeWeChat::new(config);
    if let Ok(push_url) = std::env::var("FAKE_WECHAT_PUSH_URL") {
        for appid in fake.appids() {
            let url = push_url.replace("{appid}", &appid);
            log::info!("media checks of {appid} push to {url}");
            fake.set_push_url(&appid, &url);
        }
    }
    let running = fake.start(&addr).await?;
    running.wait().await
}
