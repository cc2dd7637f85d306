//! The admin API (contract v3, "The operators' side"): a listener of its own
//! (`ADMIN_BIND_ADDR`), every request with an admin key, JSON errors as everywhere.

mod description;
mod keys;
mod routes;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{App, HttpRequest, HttpServer, web};
use anyhow::Context;
use wxlogin_core::{AdminService, LoginService, Operator};

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
}

impl AdminState {
    /// The operator making `req`, by its `Authorization: Bearer <key>`; a missing or wrong key
    /// is 401 `admin_unauthorized`, counted and recorded in the audit log (never the key).
    pub(crate) async fn operator(&self, req: &HttpRequest) -> Result<Operator, ApiError> {
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
                self.admin.record_refused_key(client).await;
                Err(ApiErrorKind::AdminUnauthorized.error())
            }
        }
    }
}

/// Serves the admin API on `at`, one worker.
pub(crate) fn serve_admin(
    at: SocketAddr,
    state: AdminState,
) -> anyhow::Result<(Server, SocketAddr)> {
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
            .wrap(actix_web::middleware::Logger::new("admin %a %U %s %b %Dms"))
            .configure(routes::configure)
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
