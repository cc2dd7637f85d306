//! The admin API's routes: accounts, bans, sessions, deletion, the audit log, and this API's
//! own description.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use wxlogin_core::Operator;
use wxlogin_domain::{AuditEntry, AuditKind, AuditQuery, Clock, SessionInfo, SystemClock, User};

use super::AdminState;
use crate::error::{ApiError, ApiErrorKind};
use crate::routes::rfc3339;

/// The default and largest page of the audit log.
const DEFAULT_AUDIT_PAGE: usize = 100;
const MOST_AUDIT_PAGE: usize = 1000;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/openapi.json", web::get().to(description))
        .route("/admin/users", web::get().to(find_user))
        .route("/admin/users/{id}", web::get().to(show_user))
        .route("/admin/users/{id}", web::delete().to(delete_user))
        .route("/admin/users/{id}/ban", web::post().to(ban))
        .route("/admin/users/{id}/unban", web::post().to(unban))
        .route("/admin/users/{id}/sessions", web::get().to(sessions))
        .route("/admin/sessions/{sid}", web::delete().to(revoke_session))
        .route("/admin/audit", web::get().to(audit));
}

/// `User` as operators see it: its ban included, its phone number not (its owner's only).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AdminUserBody {
    id: String,
    nick_name: Option<String>,
    avatar_url: Option<String>,
    gender: Option<i32>,
    apps: Vec<String>,
    created_at: String,
    updated_at: String,
    /// `active` or `disabled`.
    status: &'static str,
    disabled_at: Option<String>,
    disabled_reason: Option<String>,
}

impl From<User> for AdminUserBody {
    fn from(user: User) -> Self {
        Self {
            status: if user.is_disabled() {
                "disabled"
            } else {
                "active"
            },
            disabled_at: user.disabled_at.map(rfc3339),
            disabled_reason: user.disabled_reason,
            id: user.id,
            nick_name: user.nick_name,
            avatar_url: user.avatar_url,
            gender: user.gender,
            apps: user.apps,
            created_at: rfc3339(user.created_at),
            updated_at: rfc3339(user.updated_at),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionBody {
    id: String,
    appid: String,
    created_at: String,
    expires_at: String,
    last_refreshed_at: Option<String>,
    client_addr: Option<String>,
    /// `active`, `expired` or `revoked`.
    state: &'static str,
}

impl SessionBody {
    fn new(info: SessionInfo, now: i64) -> Self {
        let state = if info.session.revoked_at.is_some() {
            "revoked"
        } else if info.session.is_expired_at(now) {
            "expired"
        } else {
            "active"
        };
        Self {
            id: info.session.id,
            appid: info.session.appid,
            created_at: rfc3339(info.session.created_at),
            expires_at: rfc3339(info.session.expires_at),
            last_refreshed_at: info.refreshed_at.map(rfc3339),
            client_addr: info.client_addr,
            state,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AuditBody {
    id: i64,
    at: String,
    kind: &'static str,
    user_id: Option<String>,
    appid: Option<String>,
    session_id: Option<String>,
    client_addr: Option<String>,
    outcome: String,
    actor: Option<String>,
}

impl From<AuditEntry> for AuditBody {
    fn from(entry: AuditEntry) -> Self {
        Self {
            id: entry.id,
            at: rfc3339(entry.at),
            kind: entry.kind.as_str(),
            user_id: entry.user_id,
            appid: entry.appid,
            session_id: entry.session_id,
            client_addr: entry.client_addr,
            outcome: entry.outcome,
            actor: entry.actor,
        }
    }
}

pub(super) fn no_such(what: &str) -> ApiError {
    ApiError::new(ApiErrorKind::NotFound, format!("no such {what}"))
}

async fn description() -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(super::document_json()))
}

#[derive(Deserialize)]
struct IdentityQuery {
    appid: String,
    openid: String,
}

async fn find_user(
    state: web::Data<AdminState>,
    by: web::ReqData<Operator>,
    query: web::Query<IdentityQuery>,
) -> Result<HttpResponse, ApiError> {
    let user = state
        .admin
        .find_by_identity(&by, &query.appid, &query.openid)
        .await?
        .ok_or_else(|| no_such("account"))?;
    Ok(HttpResponse::Ok().json(AdminUserBody::from(user)))
}

async fn show_user(
    state: web::Data<AdminState>,
    by: web::ReqData<Operator>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = state
        .admin
        .user(&by, &id)
        .await?
        .ok_or_else(|| no_such("account"))?;
    Ok(HttpResponse::Ok().json(AdminUserBody::from(user)))
}

#[derive(Deserialize)]
struct BanBody {
    reason: String,
}

async fn ban(
    state: web::Data<AdminState>,
    by: web::ReqData<Operator>,
    id: web::Path<String>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let BanBody { reason } = crate::routes::json_object(body.into_inner())?;
    if !state.admin.ban(&by, &id, &reason).await? {
        return Err(no_such("account"));
    }
    changed_user(&state, &by, &id).await
}

async fn unban(
    state: web::Data<AdminState>,
    by: web::ReqData<Operator>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if !state.admin.unban(&by, &id).await? {
        return Err(no_such("account"));
    }
    changed_user(&state, &by, &id).await
}

/// The account as it is after a change.
async fn changed_user(
    state: &AdminState,
    by: &Operator,
    id: &str,
) -> Result<HttpResponse, ApiError> {
    let user = state
        .admin
        .user(by, id)
        .await?
        .ok_or_else(|| no_such("account"))?;
    Ok(HttpResponse::Ok().json(AdminUserBody::from(user)))
}

async fn sessions(
    state: web::Data<AdminState>,
    by: web::ReqData<Operator>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let now = SystemClock.now();
    let sessions: Vec<SessionBody> = state
        .admin
        .sessions(&by, &id)
        .await?
        .into_iter()
        .map(|info| SessionBody::new(info, now))
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "sessions": sessions })))
}

async fn revoke_session(
    state: web::Data<AdminState>,
    by: web::ReqData<Operator>,
    sid: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if !state.admin.revoke_session(&by, &sid).await? {
        return Err(no_such("live session"));
    }
    Ok(HttpResponse::NoContent().finish())
}

async fn delete_user(
    state: web::Data<AdminState>,
    by: web::ReqData<Operator>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if !state.admin.delete_user(&by, &id).await? {
        return Err(no_such("account"));
    }
    // Its uploaded avatar goes from the media store now, as on its owner's deletion.
    if let Err(e) = state.service.collect_unused_media().await {
        log::warn!(
            "collecting unused media after a deletion failed: {}",
            wxlogin_domain::error_chain(&e)
        );
    }
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
struct AuditParams {
    user: Option<String>,
    kind: Option<String>,
    after: Option<i64>,
    limit: Option<usize>,
}

async fn audit(
    state: web::Data<AdminState>,
    by: web::ReqData<Operator>,
    params: web::Query<AuditParams>,
) -> Result<HttpResponse, ApiError> {
    let kind =
        match params.kind.as_deref() {
            None => None,
            Some(name) => Some(AuditKind::parse(name).ok_or_else(|| {
                ApiError::invalid_request(format!("no audit entry kind {name:?}"))
            })?),
        };
    let limit = params.limit.unwrap_or(DEFAULT_AUDIT_PAGE);
    if limit == 0 || limit > MOST_AUDIT_PAGE {
        return Err(ApiError::invalid_request(format!(
            "\"limit\" must be 1 to {MOST_AUDIT_PAGE}"
        )));
    }
    let entries = state
        .admin
        .audit(
            &by,
            &AuditQuery {
                user_id: params.user.clone(),
                kind,
                after: params.after.unwrap_or(0).max(0),
                limit,
            },
        )
        .await?;
    // The cursor of the next page: the last entry's id, or the one given when none came.
    let next = entries.last().map_or(params.after.unwrap_or(0), |e| e.id);
    let entries: Vec<AuditBody> = entries.into_iter().map(AuditBody::from).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "entries": entries, "next": next })))
}
