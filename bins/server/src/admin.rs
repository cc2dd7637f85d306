//! The admin API (contract v3, "The operators' side"): a listener of its own
//! (`ADMIN_BIND_ADDR`), every request with an admin key, JSON errors as everywhere.

mod description;
mod keys;
mod routes;
mod webhooks;

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{App, HttpMessage, HttpRequest, HttpServer, web};
use anyhow::Context;
use wxlogin_core::{AdminService, LoginService, Operator};
use wxlogin_domain::{Clock, SystemClock};

pub use description::document_json;
pub use keys::{AdminKeys, MIN_KEY_LEN};

use crate::error::{ApiError, ApiErrorKind};
use crate::metrics::Metrics;

/// What the admin routes share.
pub(crate) struct AdminState {
    pub(crate) admin: AdminService,
    pub(crate) service: Arc<LoginService>,
    pub(crate) keys: AdminKeys,
    pub(crate) metrics: Arc<Metrics>,
    /// The addresses whose refusal this minute is in the audit log already.
    pub(crate) refusals: Mutex<RecentRefusals>,
    /// The webhook outbox, for its given-up deliveries.
    pub(crate) outbox: Arc<dyn wxlogin_domain::WebhookOutbox>,
    /// The endpoints configured here, to name the deliveries' endpoints.
    pub(crate) webhooks: Vec<wxlogin_webhooks::Endpoint>,
}

/// The addresses refused within one clock minute: each is audited once a minute, so that
/// requests without a key cannot turn into a database write each (they are all counted in
/// metrics). Bounded: past [`MOST_REFUSALS_AUDITED`] addresses in a minute, only metrics count.
#[derive(Default)]
pub(crate) struct RecentRefusals {
    minute: u64,
    addresses: HashSet<Option<IpAddr>>,
}

/// The most addresses a minute's refusals are audited for.
const MOST_REFUSALS_AUDITED: usize = 1000;

impl RecentRefusals {
    /// Whether the refusal of `client` now is the first of its minute (and there is room).
    fn first_this_minute(&mut self, client: Option<IpAddr>) -> bool {
        let minute = u64::try_from(SystemClock.now().div_euclid(60)).unwrap_or(0);
        if minute != self.minute {
            self.minute = minute;
            self.addresses.clear();
        }
        self.addresses.len() < MOST_REFUSALS_AUDITED && self.addresses.insert(client)
    }
}

impl AdminState {
    /// The operator making `req`, by its `Authorization: Bearer <key>`; a missing or wrong key
    /// is 401 `admin_unauthorized`, counted and recorded in the audit log (never the key).
    async fn operator(&self, req: &HttpRequest) -> Result<Operator, ApiError> {
        let client = req.peer_addr().map(|addr| addr.ip());
        let presented = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(crate::auth::token_from_header);
        match presented.and_then(|key| self.keys.check(key)) {
            Some(key) => Ok(Operator { key, client }),
            None => {
                self.metrics.admin_refused();
                let audited = self
                    .refusals
                    .lock()
                    .map(|mut recent| recent.first_this_minute(client))
                    .unwrap_or(false);
                if audited {
                    self.admin.record_refused_key(client).await;
                }
                Err(ApiErrorKind::AdminUnauthorized.error())
            }
        }
    }
}

/// Every request's key, checked before routing, before its body or query is read: without a
/// key nothing answers but 401 (not even which routes exist). The operator goes to the
/// handler in the request's extensions.
async fn require_key(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let state = req
        .app_data::<web::Data<AdminState>>()
        .cloned()
        .ok_or_else(|| ApiError::new(ApiErrorKind::Internal, "no admin state"))?;
    let operator = state.operator(req.request()).await?;
    req.extensions_mut().insert(operator);
    next.call(req).await
}

/// Serves the admin API on `at`, one worker.
pub(crate) fn serve_admin(
    at: SocketAddr,
    state: AdminState,
) -> anyhow::Result<(Server, SocketAddr)> {
    if !at.ip().is_loopback() {
        log::warn!(
            "ADMIN_BIND_ADDR {at} is not a loopback address: the admin API speaks plain HTTP, \
             so its keys cross the network in the clear; keep it on a private network or behind \
             TLS"
        );
    }
    let listener = TcpListener::bind(at).with_context(|| format!("ADMIN_BIND_ADDR {at}"))?;
    let addr = listener.local_addr()?;
    let state = web::Data::new(state);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(
                web::JsonConfig::default()
                    .limit(16 * 1024)
                    .content_type_required(false)
                    .error_handler(|e, _| crate::error::json_error(e).into()),
            )
            .app_data(web::QueryConfig::default().error_handler(|e, _| {
                ApiError::invalid_request(format!("the query does not fit: {e}")).into()
            }))
            // Outermost last: the logger sees the key check's refusals too.
            .wrap(actix_web::middleware::from_fn(require_key))
            .wrap(actix_web::middleware::Logger::new("admin %a %U %s %b %Dms"))
            .configure(routes::configure)
            .configure(webhooks::configure)
            .default_service(web::to(crate::routes::not_found))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(1)
    .listen(listener)?
    .run();
    log::info!("admin API on http://{addr}/admin");
    Ok((server, addr))
}
