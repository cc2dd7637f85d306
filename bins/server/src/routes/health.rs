//! The probes: `/healthz`, `/readyz`.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;
use wxlogin_domain::error_chain;

use crate::error::{ApiError, ApiErrorKind};
use crate::state::AppState;

/// What `/healthz` and `/readyz` answer.
#[derive(Serialize, ToSchema)]
pub(crate) struct Status {
    /// `ok` (serving) or `ready` (the database answers).
    #[schema(value_type = String, example = "ok")]
    status: &'static str,
}

/// Liveness: 200 while the process serves
#[utoipa::path(method(get, head), path = "/healthz", tag = "operations",
    responses((status = 200, description = "Serving", body = Status, example = json!({"status": "ok"}))))]
pub(crate) async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Status { status: "ok" })
}

/// Readiness: 200 when the database answers, 503 otherwise
#[utoipa::path(method(get, head), path = "/readyz", tag = "operations",
    responses((status = 200, description = "Ready", body = Status, example = json!({"status": "ready"}))))]
pub(crate) async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    // The same path as every other store call: a permit, a pooled connection, a query.
    match tokio::time::timeout(Duration::from_secs(3), state.service.ping()).await {
        Ok(Ok(())) => {
            // Ready or not, and nothing more: counters belong to metrics, not to a public
            // route.
            Ok(HttpResponse::Ok().json(Status { status: "ready" }))
        }
        outcome => {
            match outcome {
                Ok(Err(e)) => log::warn!("readiness check failed: {}", error_chain(&e)),
                _ => log::warn!("readiness check failed: the database took over 3 s"),
            }
            Err(ApiError::new(
                ApiErrorKind::Unavailable,
                "the database does not answer",
            ))
        }
    }
}
