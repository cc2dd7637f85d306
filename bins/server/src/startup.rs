//! Builds the server from a [`Config`]: database, migrations, dev-mode fake, listener.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{App, HttpServer, middleware, web};
use anyhow::Context;
use wxlogin_core::{LoginService, LoginSettings, LoginShared};
use wxlogin_fake_wechat::{FakeWeChat, FakeWeChatConfig, RunningFake};
use wxlogin_store::{ChangeListener, DieselUserStore, PoolOptions, SessionKeySealer};
use wxlogin_token::{JwtIssuer, SystemClock, TokenConfig};
use wxlogin_wechat::HttpWeChatClient;

use crate::config::Config;
use crate::error::json_error;
use crate::routes;
use crate::state::{AppState, login_limiter};

/// A built server, listening, not yet serving.
pub struct Application {
    server: Server,
    addr: SocketAddr,
    fake: Option<RunningFake>,
    changes: Option<ChangeListener>,
}

impl Application {
    /// Connects the database and applies migrations, starts the fake WeChat in dev mode, and
    /// binds `config.bind_addr` (port 0 picks a free port: see [`Application::addr`]).
    pub async fn build(mut config: Config) -> anyhow::Result<Self> {
        let fake = if config.dev {
            let running = FakeWeChat::new(FakeWeChatConfig::default())
                .start("127.0.0.1:0")
                .await
                .context("starting the built-in fake WeChat")?;
            config.wechat.api_base = running.base_url();
            log::warn!("======================================================================");
            log::warn!(
                "DEV MODE: WeChat is the built-in FAKE at {}; tokens are signed with",
                running.base_url()
            );
            log::warn!("a dev key unless TOKEN_SECRET is set. Never expose this server to users.");
            log::warn!("======================================================================");
            Some(running)
        } else {
            None
        };

        let url = config.database_url.clone();
        let pool = PoolOptions {
            max_size: config.db_pool_size,
            ..PoolOptions::default()
        };
        let mut sealer =
            SessionKeySealer::new(config.sealing_secret.expose()).context("SESSION_KEY_SECRET")?;
        if let Some(previous) = &config.previous_sealing_secret {
            sealer = sealer
                .with_previous(previous.expose())
                .context("SESSION_KEY_SECRET_PREVIOUS")?;
        }
        log::info!("secrets at rest are sealed under key {}", sealer.key_id());
        let store = tokio::task::spawn_blocking(move || -> anyhow::Result<DieselUserStore> {
            let store = DieselUserStore::connect(&url, &pool, sealer).context("DATABASE_URL")?;
            let applied = store
                .run_migrations()
                .context("applying database migrations")?;
            for migration in applied {
                log::info!("applied migration {migration}");
            }
            Ok(store)
        })
        .await
        .context("database set-up task")??;
        log::info!("database: {}", store.url());
        let store = Arc::new(store);

        let tokens = Arc::new(
            JwtIssuer::new(
                config.token_secret.expose(),
                TokenConfig::default(),
                SystemClock,
            )
            .context("TOKEN_SECRET")?,
        );
        let limiter = login_limiter(config.login_rate_limit);
        let settings = LoginSettings {
            session_ttl_secs: config.session_ttl_secs,
            session_cache: std::time::Duration::from_millis(config.session_cache_ms),
            store_concurrency: usize::try_from(config.db_pool_size).unwrap_or(8),
            ..LoginSettings::default()
        };
        let shared = Arc::new(LoginShared::new(
            Arc::clone(&store),
            tokens,
            Arc::new(SystemClock),
            settings,
        ));
        // Other instances' logouts and edits, heard at once rather than when the cache expires.
        let changes = if config.session_cache_ms > 0 {
            let to = Arc::clone(&shared);
            store
                .listen_for_changes(move |change| to.apply_change(&change))
                .context("listening for changes on PostgreSQL")?
        } else {
            None
        };
        let wechat = config.wechat.clone();
        let max_body = config.max_body_bytes;

        let listener = TcpListener::bind(config.bind_addr)
            .with_context(|| format!("BIND_ADDR {}", config.bind_addr))?;
        let addr = listener.local_addr()?;
        let server = HttpServer::new(move || {
            // One WeChat client per worker: awc clients cannot cross threads.
            let service =
                LoginService::sharing(HttpWeChatClient::new(wechat.clone()), Arc::clone(&shared));
            App::new()
                .app_data(web::Data::new(AppState {
                    service,
                    login_limiter: limiter.clone(),
                }))
                .app_data(
                    web::JsonConfig::default()
                        .limit(max_body)
                        .content_type_required(false)
                        .error_handler(|e, _| json_error(e).into()),
                )
                .app_data(web::PayloadConfig::default().limit(max_body))
                // Path only (%U, no query string) and never headers: no token reaches the log.
                .wrap(
                    middleware::Logger::new("%a \"%{method}xi %U\" %s %b %Dms")
                        .custom_request_replace("method", |req| req.method().to_string()),
                )
                .configure(routes::configure)
                .default_service(web::to(routes::not_found))
        })
        .workers(config.workers)
        .disable_signals()
        .shutdown_timeout(10)
        .listen(listener)?
        .run();
        log::info!("wxlogin-server listening on http://{addr}");
        Ok(Self {
            server,
            addr,
            fake,
            changes,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL of the built-in fake WeChat, in dev mode.
    pub fn fake_wechat_url(&self) -> Option<String> {
        self.fake.as_ref().map(RunningFake::base_url)
    }

    /// A handle to stop it gracefully (`handle.stop(true)` lets requests in flight finish).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped through [`Application::handle`].
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        drop(self.changes);
        if let Some(fake) = self.fake {
            fake.stop().await;
        }
        result
    }
}
