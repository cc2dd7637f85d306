//! Builds the server from a [`Config`]: database, migrations, the one service, dev-mode fake,
//! listener.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{App, HttpServer, middleware, web};
use anyhow::Context;
use wxlogin_core::{LoginService, LoginSettings, MediaSettings};
use wxlogin_domain::SystemClock;
#[cfg(feature = "dev")]
use wxlogin_fake_wechat::{FakeWeChat, FakeWeChatConfig, RunningFake};
use wxlogin_token::{SignedTokens, TokenConfig};
use wxlogin_user_store::{DieselStore, PoolOptions};
use wxlogin_wechat_client::HttpWeChatClient;

use crate::config::Config;
use crate::error::json_error;
use crate::metered_wechat::MeteredWeChat;
use crate::metrics::Metrics;
use crate::middleware::{count_request, json_in_utf8, request_id};
use crate::routes;
use crate::state::{AppState, login_limiter, prune_login_limiter};

/// A built server, listening, not yet serving.
pub struct Application {
    server: Server,
    addr: SocketAddr,
    /// `/metrics`, on its own listener, when `METRICS_BIND_ADDR` is set.
    metrics_server: Option<(Server, SocketAddr)>,
    /// The admin API, on its own listener, when `ADMIN_BIND_ADDR` is set.
    admin_server: Option<(Server, SocketAddr)>,
    #[cfg(feature = "dev")]
    fake: Option<RunningFake>,
    /// Owns the change-feed subscription and the WeChat transport threads; dropped after the
    /// server has stopped.
    service: Arc<LoginService>,
    /// The session purge and the limiter's pruning, stopped with the server.
    maintenance: Vec<actix_web::rt::task::JoinHandle<()>>,
}

impl Application {
    /// Connects the database and applies migrations, starts the fake WeChat in dev mode, and
    /// binds `config.bind_addr` (port 0 picks a free port: see [`Application::addr`]).
    pub async fn build(#[allow(unused_mut)] mut config: Config) -> anyhow::Result<Self> {
        #[cfg(feature = "dev")]
        let fake = if config.dev {
            let running = FakeWeChat::new(FakeWeChatConfig::dev(config.apps.len()))
                .start("127.0.0.1:0")
                .await
                .context("starting the built-in fake WeChat")?;
            for app in &mut config.apps {
                app.wechat.api_base = running.base_url();
            }
            log::warn!("======================================================================");
            log::warn!(
                "DEV MODE: WeChat is the built-in FAKE at {}; tokens are signed with",
                running.base_url()
            );
            log::warn!("a public dev key. Never expose this server to users.");
            log::warn!("======================================================================");
            Some(running)
        } else {
            None
        };

        let sealer = crate::database::sealer(&config)?;
        log::info!("secrets at rest are sealed under key {}", sealer.key_id());
        let pool = PoolOptions {
            max_size: config.db_pool_size,
            listen_url: config.database_listen_url.clone(),
            ..PoolOptions::default()
        };
        let (store, applied) = DieselStore::open(&config.database_url, &pool, sealer)
            .await
            .context("DATABASE_URL")?;
        // Before anything changes an account: every change records its events from now on.
        store.route_webhooks(crate::config::routes_of(&config.webhooks));
        let store = Arc::new(store);
        for migration in applied {
            log::info!("applied migration {migration}");
        }
        log::info!("database: {}", store.url());
        claim_legacy_rows(&store, &config).await?;

        let metrics = Arc::new(Metrics::new());
        let keys = Arc::new(crate::signing_keys::key_ring(&config));
        crate::signing_keys::sync_keys(&keys, &store, &metrics)
            .await
            .context("reading or making the token signing keys")?;
        let tokens = SignedTokens::new(
            Arc::clone(&keys),
            config.token_secret.expose(),
            config.session_ttl_secs,
            TokenConfig::default(),
            SystemClock,
        )
        .context("TOKEN_SECRET")?;
        let mut builder = LoginService::builder();
        for app in &config.apps {
            let wechat = HttpWeChatClient::new(app.wechat.clone());
            builder = builder.wechat(Arc::new(MeteredWeChat::new(
                Arc::new(wechat),
                Arc::clone(&metrics),
            )));
            if let Some(push) = &app.push {
                if !push.safe_mode() {
                    log::warn!(
                        "pushes to {} are taken in plain mode, whose signature covers no body: \
                         whoever sees one push URL can send events for 5 minutes. Set its \
                         EncodingAESKey (push_aes_key) and choose safe mode in WeChat's console",
                        app.wechat.appid
                    );
                }
                builder = builder.push_settings(&app.wechat.appid, push.clone());
            }
        }
        log::info!(
            "serving the mini programs {}",
            config
                .apps
                .iter()
                .map(|app| app.wechat.appid.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        // Bound before the service is built: without PUBLIC_BASE_URL, avatar URLs name the
        // address it listens on (port 0 picks one).
        let listener = TcpListener::bind(config.bind_addr)
            .with_context(|| format!("BIND_ADDR {}", config.bind_addr))?;
        let addr = listener.local_addr()?;
        #[cfg(feature = "dev")]
        if let Some(running) = &fake {
            // As the push URL set in WeChat's console: where the fake sends its media checks.
            for app in &config.apps {
                let appid = &app.wechat.appid;
                running
                    .fake()
                    .set_push_url(appid, &format!("http://{addr}/wechat/push/{appid}"));
            }
        }
        let media = crate::media_store::media_store(&config.media, &store)?;
        let builder = crate::shared_limits::with_shared_limits(builder, &store);
        let service = builder
            .store(Arc::clone(&store))
            .media(
                Arc::clone(&media),
                Arc::clone(&store) as Arc<dyn wxlogin_domain::AvatarStore>,
                MediaSettings {
                    public_base_url: config
                        .media
                        .public_base_url
                        .clone()
                        .unwrap_or_else(|| crate::config::listening_base_url(addr)),
                    limits: config.media.limits,
                    concurrency: config.media.upload_concurrency,
                    ..MediaSettings::default()
                },
            )
            .content_checks(config.media.content_check)
            .tokens(Arc::new(tokens))
            .settings(LoginSettings {
                session_ttl_secs: config.session_ttl_secs,
                access_token_ttl_secs: config
                    .tokens
                    .access_token_ttl_secs
                    .min(config.session_ttl_secs),
                refresh_reuse_secs: config.tokens.refresh_reuse_secs,
                verified_token_bytes: config.tokens.verified_token_bytes,
                session_cache: std::time::Duration::from_millis(config.session_cache_ms),
                session_cache_with_feed: std::time::Duration::from_secs(
                    config.session_cache_feed_secs,
                ),
                session_cache_bytes: config.session_cache_bytes,
                user_rate_limit: config.user_rate_limit,
                code_replay_secs: config.code_replay_secs,
                ..LoginSettings::default()
            })
            .build()
            .context("wiring the login service")?;
        let limiter = login_limiter(config.login_rate_limit);
        let prune = limiter.clone().map(|limiter| {
            actix_web::rt::spawn(async move {
                loop {
                    actix_web::rt::time::sleep(std::time::Duration::from_secs(60)).await;
                    prune_login_limiter(&limiter);
                }
            })
        });
        metrics.observe(Arc::clone(&service), Arc::clone(&store));
        let state = web::Data::new(AppState {
            service: Arc::clone(&service),
            keys: Arc::clone(&keys),
            metrics: Arc::clone(&metrics),
            login_limiter: limiter,
            login_rate_limit: config.login_rate_limit,
            trusted_proxies: config.trusted_proxies.clone(),
            media: Some(media),
            avatar_max_bytes: config.media.limits.max_bytes,
            upload_turns: Arc::new(tokio::sync::Semaphore::new(
                config.media.upload_concurrency * 2,
            )),
        });
        let max_body = config.max_body_bytes;
        let description = web::Data::new(crate::routes::ApiDescription(
            crate::openapi::document_json(),
        ));

        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(description.clone())
                .app_data(
                    web::JsonConfig::default()
                        .limit(max_body)
                        .content_type_required(false)
                        .error_handler(|e, _| json_error(e).into()),
                )
                .app_data(web::PayloadConfig::default().limit(max_body))
                // A query that does not fit (`?wait=-1`) is answered in JSON like any error,
                // not in actix-web's plain text.
                .app_data(web::QueryConfig::default().error_handler(|e, _| {
                    crate::error::ApiError::invalid_request(format!("the query does not fit: {e}"))
                        .into()
                }))
                // Path only (%U, no query string) and no header but the request id: no token
                // reaches the log.
                .wrap(
                    middleware::Logger::new("%a \"%{method}xi %U\" %s %b %Dms id=%{x-request-id}i")
                        .custom_request_replace("method", |req| req.method().to_string()),
                )
                // Outside the logger, so that the id it puts on the request is logged.
                .wrap(middleware::from_fn(request_id))
                .wrap(middleware::from_fn(json_in_utf8))
                .wrap(middleware::from_fn(count_request))
                .configure(routes::configure)
                .default_service(web::to(routes::not_found))
        })
        .workers(config.workers)
        .disable_signals()
        .shutdown_timeout(10)
        .listen(listener)?
        .run();
        log::info!("wxlogin-server listening on http://{addr}");
        let metrics_server = match config.metrics_bind_addr {
            Some(at) => Some(crate::metrics::serve_metrics(at, Arc::clone(&metrics))?),
            None => None,
        };
        let admin = service
            .admin()
            .context("the login service was built without its operators' ports")?;
        let admin_server = match config.admin.bind_addr {
            Some(at) => Some(crate::admin::serve_admin(
                at,
                crate::admin::AdminState {
                    admin: admin.clone(),
                    service: Arc::clone(&service),
                    keys: config.admin.keys.clone(),
                    metrics: Arc::clone(&metrics),
                    refusals: Default::default(),
                    outbox: Arc::clone(&store) as Arc<dyn wxlogin_domain::WebhookOutbox>,
                    webhooks: config.webhooks.clone(),
                },
            )?),
            None => None,
        };
        let audit_purge = actix_web::rt::spawn(crate::maintenance::purge_audit(
            admin,
            config.admin.audit_retention_days,
        ));
        let purge = (config.session_purge_secs > 0).then(|| {
            actix_web::rt::spawn(crate::maintenance::purge_sessions(
                Arc::clone(&service),
                config.session_purge_secs,
            ))
        });
        let short_lived =
            actix_web::rt::spawn(crate::maintenance::purge_short_lived(Arc::clone(&service)));
        let key_sync = actix_web::rt::spawn(crate::signing_keys::keep_keys(
            Arc::clone(&keys),
            Arc::clone(&store),
            Arc::clone(&metrics),
        ));
        let collect = actix_web::rt::spawn(crate::maintenance::collect_unused_media(Arc::clone(
            &service,
        )));
        let limits_purge = actix_web::rt::spawn(crate::shared_limits::purge_shared_limits(
            Arc::clone(&service),
        ));
        let dispatching = crate::webhooks::start(
            &config,
            Arc::clone(&store) as Arc<dyn wxlogin_domain::WebhookOutbox>,
            &metrics,
        )?;
        let maintenance = purge
            .into_iter()
            .chain(dispatching)
            .chain(prune)
            .chain([limits_purge])
            .chain([short_lived, key_sync, collect, audit_purge])
            .collect();
        Ok(Self {
            server,
            addr,
            metrics_server,
            admin_server,
            #[cfg(feature = "dev")]
            fake,
            service,
            maintenance,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL of the built-in fake WeChat, in dev mode.
    pub fn fake_wechat_url(&self) -> Option<String> {
        #[cfg(feature = "dev")]
        return self.fake.as_ref().map(RunningFake::base_url);
        #[cfg(not(feature = "dev"))]
        None
    }

    /// Where `/metrics` listens, when `METRICS_BIND_ADDR` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_server.as_ref().map(|(_, addr)| *addr)
    }

    /// Where the admin API listens, when `ADMIN_BIND_ADDR` is set.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_server.as_ref().map(|(_, addr)| *addr)
    }

    /// A handle to stop it gracefully (`handle.stop(true)` lets requests in flight finish).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped through [`Application::handle`].
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let side_listeners: Vec<_> = self
            .metrics_server
            .into_iter()
            .chain(self.admin_server)
            .map(|(server, _)| {
                let handle = server.handle();
                (actix_web::rt::spawn(server), handle)
            })
            .collect();
        let result = self.server.await;
        for (task, handle) in side_listeners {
            handle.stop(true).await;
            let _ = task.await;
        }
        for task in self.maintenance {
            task.abort();
        }
        drop(self.service);
        #[cfg(feature = "dev")]
        if let Some(fake) = self.fake {
            fake.stop().await;
        }
        result
    }
}

/// Users and sessions from before several mini programs were served belong to the one app that
/// was: with one app configured they are given to it; with several, which one is not known, so
/// the server refuses to start rather than guess.
async fn claim_legacy_rows(store: &DieselStore, config: &Config) -> anyhow::Result<()> {
    let unclaimed = store
        .unclaimed_legacy_rows()
        .await
        .context("looking for users from before several mini programs")?;
    if unclaimed == 0 {
        return Ok(());
    }
    let [only] = config.apps.as_slice() else {
        anyhow::bail!(
            "the database holds {unclaimed} users from before several mini programs were served, \
             and which app they came from is not known: start once with WECHAT_APPID and \
             WECHAT_SECRET of that app (which gives them to it), then with WECHAT_APPS_FILE"
        );
    };
    let claimed = store
        .claim_legacy_rows(&only.wechat.appid)
        .await
        .context("giving the existing users to WECHAT_APPID")?;
    log::info!(
        "{claimed} users from before several mini programs now belong to {}",
        only.wechat.appid
    );
    Ok(())
}
