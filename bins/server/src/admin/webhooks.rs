//! The admin API's webhook routes: the deliveries given up after 24 hours of failures, and
//! putting them back to be tried again.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use wxlogin_core::Operator;
use wxlogin_domain::{AuditKind, Clock, SystemClock, WebhookDelivery};

use super::AdminState;
use crate::error::ApiError;
use crate::routes::rfc3339;

/// The most failed deliveries one page answers.
const MOST_PAGE: usize = 500;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/webhooks/failed", web::get().to(failed))
        .route("/admin/webhooks/failed/retry", web::post().to(retry_all))
        .route(
            "/admin/webhooks/failed/{id}/retry",
            web::post().to(retry_one),
        );
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FailedBody {
    id: i64,
    message_id: String,
    /// The endpoint's `name`, else `scheme://host:port`; an endpoint no instance here has
    /// configured is named by its key.
    endpoint: String,
    event_type: String,
    user_id: Option<String>,
    created_at: String,
    attempts: u32,
    last_error: Option<String>,
    failed_at: Option<String>,
}

impl FailedBody {
    fn new(delivery: WebhookDelivery, endpoints: &[wxlogin_webhooks::Endpoint]) -> Self {
        let endpoint = endpoints
            .iter()
            .find(|e| e.key() == delivery.endpoint)
            .map_or_else(
                || format!("{} (not configured here)", delivery.endpoint),
                wxlogin_webhooks::Endpoint::label,
            );
        Self {
            id: delivery.id,
            message_id: delivery.message_id,
            endpoint,
            event_type: delivery.event_type,
            user_id: delivery.user_id,
            created_at: rfc3339(delivery.created_at),
            attempts: delivery.attempts,
            last_error: delivery.last_error,
            failed_at: delivery.failed_at.map(rfc3339),
        }
    }
}

#[derive(Deserialize)]
struct PageParams {
    after: Option<i64>,
    limit: Option<usize>,
}

async fn failed(
    state: web::Data<AdminState>,
    by: web::ReqData<Operator>,
    params: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let limit = params.limit.unwrap_or(100);
    if limit == 0 || limit > MOST_PAGE {
        return Err(ApiError::invalid_request(format!(
            "\"limit\" must be 1 to {MOST_PAGE}"
        )));
    }
    let deliveries = state
        .outbox
        .failed_deliveries(params.after.unwrap_or(0).max(0), limit)
        .await
        .map_err(wxlogin_core::CoreError::from)?;
    state
        .admin
        .record_action(&by, AuditKind::AdminLookup, None, "webhooks failed")
        .await;
    // The cursor of the next page, as the audit log's: the last id, or the one given.
    let next = deliveries
        .last()
        .map_or(params.after.unwrap_or(0), |d| d.id);
    let deliveries: Vec<FailedBody> = deliveries
        .into_iter()
        .map(|d| FailedBody::new(d, &state.webhooks))
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "deliveries": deliveries,
        "next": next,
    })))
}

async fn retry_all(
    state: web::Data<AdminState>,
    by: web::ReqData<Operator>,
) -> Result<HttpResponse, ApiError> {
    retry(&state, &by, None).await
}

async fn retry_one(
    state: web::Data<AdminState>,
    by: web::ReqData<Operator>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    retry(&state, &by, Some(id.into_inner())).await
}

async fn retry(
    state: &AdminState,
    by: &Operator,
    id: Option<i64>,
) -> Result<HttpResponse, ApiError> {
    let now = SystemClock.now();
    let retried = state
        .outbox
        .retry_failed(id, now)
        .await
        .map_err(wxlogin_core::CoreError::from)?;
    let outcome = match id {
        Some(id) => format!("delivery {id}: retried {retried}"),
        None => format!("retried {retried}"),
    };
    state
        .admin
        .record_action(by, AuditKind::WebhookRetry, None, &outcome)
        .await;
    if id.is_some() && retried == 0 {
        return Err(super::routes::no_such("failed delivery"));
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({ "retried": retried })))
}
