//! `GET /metrics`, served on a listener of its own.

use std::sync::Arc;

use actix_web::HttpResponse;

use super::Metrics;

/// `GET /metrics`.
async fn serve(metrics: actix_web::web::Data<Metrics>) -> HttpResponse {
    match metrics.render() {
        Ok(text) => HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4; charset=utf-8")
            .body(text),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

/// `GET /metrics` on a listener of its own, one worker: never reachable on the public one.
pub(crate) fn serve_metrics(
    at: std::net::SocketAddr,
    metrics: Arc<Metrics>,
) -> anyhow::Result<(actix_web::dev::Server, std::net::SocketAddr)> {
    use actix_web::{App, HttpServer, web};
    use anyhow::Context;
    let listener =
        std::net::TcpListener::bind(at).with_context(|| format!("METRICS_BIND_ADDR {at}"))?;
    let addr = listener.local_addr()?;
    let metrics = web::Data::from(metrics);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(metrics.clone())
            .route("/metrics", web::get().to(serve))
            .route("/metrics", web::head().to(serve))
            .default_service(web::to(crate::routes::not_found))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(1)
    .listen(listener)?
    .run();
    log::info!("metrics on http://{addr}/metrics");
    Ok((server, addr))
}
