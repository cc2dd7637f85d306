//! `GET /openapi.json`: the API description, as `openapi.rs` builds it from these routes. It is
//! handed in as app data, so that the routes do not depend on their own description.

use actix_web::{HttpResponse, web};

/// The API description served at `/openapi.json`.
pub struct ApiDescription(pub &'static str);

/// This description
#[utoipa::path(method(get, head), path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "OpenAPI 3.1", content_type = "application/json",
        body = Object)))]
pub(crate) async fn openapi_json(description: web::Data<ApiDescription>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json; charset=utf-8")
        .body(description.0)
}
