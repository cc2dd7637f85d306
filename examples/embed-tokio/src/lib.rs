//! wxlogin embedded the way a backend team embeds it: one [`LoginService`] in an `Arc` in the
//! shared state of a multi-threaded tokio service, called from spawned tasks (what every axum
//! or tonic handler does). `main.rs` runs it against the fake WeChat; `tests/` checks it.

use std::sync::Arc;

use anyhow::Context;
use wxlogin::{
    AppSecret, DieselStore, HttpWeChatClient, JwtCodec, LoginService, LoginSettings, PoolOptions,
    SealingSecret, SecretSealer, SystemClock, TokenConfig, WeChatConfig,
};

/// Where the service's parts come from: in a real service, its typed configuration.
pub struct Setup<'a> {
    /// `sqlite://<path>` or `postgres://...`.
    pub database_url: &'a str,
    /// The WeChat API: `https://api.weixin.qq.com`, or a fake's URL.
    pub wechat_api_base: &'a str,
    /// The mini program's appid and secret.
    pub appid: &'a str,
    /// The mini program's app secret.
    pub app_secret: &'a str,
    /// How long a session, once read, is trusted without the database.
    pub session_cache: std::time::Duration,
}

/// Wires the service: the real store (migrations applied), the real WeChat client, the real
/// token codec. On PostgreSQL the builder subscribes the session cache to the change feed, so
/// logouts on other instances reach this one at once.
pub async fn build_service(setup: &Setup<'_>) -> anyhow::Result<Arc<LoginService>> {
    let sealer = SecretSealer::new(&SealingSecret::new(
        "example sealing secret, 32 bytes or more",
    )?)?;
    let (store, _applied) = DieselStore::open(setup.database_url, &PoolOptions::default(), sealer)
        .await
        .context("opening the database")?;
    let wechat = HttpWeChatClient::new(
        WeChatConfig::new(setup.appid, AppSecret::new(setup.app_secret))
            .with_api_base(setup.wechat_api_base),
    );
    let tokens = JwtCodec::new(
        b"example token key, 32 bytes or more!!",
        TokenConfig::default(),
        SystemClock,
    )?;
    Ok(LoginService::builder()
        .wechat(Arc::new(wechat))
        .store(Arc::new(store))
        .tokens(Arc::new(tokens))
        .settings(LoginSettings {
            session_cache: setup.session_cache,
            ..LoginSettings::default()
        })
        .build()?)
}

/// What one task did: who logged in, and who the token then authenticated as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskOutcome {
    /// The code the task logged in with.
    pub code: String,
    /// The user id the login answered.
    pub logged_in_as: String,
    /// The user id the token authenticated as.
    pub authenticated_as: String,
    /// The thread the task finished on.
    pub thread: String,
}

/// Spawns `tasks` tasks on the current runtime, each logging in with the code `user<i>` and
/// authenticating with the token it got; waits for all of them.
pub async fn log_in_from_tasks(
    service: &Arc<LoginService>,
    tasks: usize,
) -> anyhow::Result<Vec<TaskOutcome>> {
    let handles: Vec<_> = (0..tasks)
        .map(|i| {
            let service = Arc::clone(service);
            tokio::spawn(async move {
                let code = format!("user{i}");
                let login = service.login(None, &code).await?;
                let caller = service.authenticate(&login.token).await?;
                Ok::<_, wxlogin::CoreError>(TaskOutcome {
                    code,
                    logged_in_as: login.user.id,
                    authenticated_as: caller.user.id,
                    thread: format!("{:?}", std::thread::current().id()),
                })
            })
        })
        .collect();
    let mut outcomes = Vec::with_capacity(tasks);
    for handle in handles {
        outcomes.push(handle.await.context("a task panicked")??);
    }
    Ok(outcomes)
}
