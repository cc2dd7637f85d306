//! `wxlogin-fake-wechat`: the fake WeChat API as a standalone server.

use wxlogin_fake_wechat::{FakeWeChat, FakeWeChatConfig};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let addr = std::env::var("FAKE_WECHAT_ADDR").unwrap_or_else(|_| "127.0.0.1:9800".into());
    let config = FakeWeChatConfig::default();
    log::info!(
        "fake WeChat for appid {} listening on http://{addr} (secret: the default dev secret)",
        config.appid
    );
    let running = FakeWeChat::new(config).start(&addr).await?;
    running.wait().await
}
