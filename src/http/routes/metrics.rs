//! `GET /metrics` (SPEC §10): Prometheus text format; an admin token unless
//! `metrics.public`.

use actix_web::{FromRequest as _, HttpRequest, HttpResponse, web};

use crate::http::error::ApiError;
use crate::http::extract::Admin;
use crate::http::state::AppState;

#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses(
        (status = 200, description = "Prometheus text format", body = String),
        (status = 404, description = "`not_found`: `metrics.enabled` is false", body = crate::http::error::ErrorResponse)
    )
)]
pub async fn metrics(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let settings = &state.settings.metrics;
    if !settings.enabled {
        return Err(ApiError::RouteNotFound {
            method: "GET".into(),
            path: "/metrics (metrics.enabled is false)".into(),
        });
    }
    if !settings.public {
        Admin::extract(&req).await?;
    }
    // The gauges of shared state, as of now.
    let gauges = state.app.operations_gauges().await;
    metrics::gauge!("assetgate_revocation_store_complete")
        .set(f64::from(u8::from(gauges.complete)));
    if let Some(n) = gauges.outbox {
        metrics::gauge!("assetgate_revocation_outbox_depth").set(n as f64);
    }
    if let Some(n) = gauges.fulfilment_queue {
        metrics::gauge!("assetgate_fulfilment_queue_depth").set(n as f64);
    }
    metrics::counter!("assetgate_history_dropped_events_total")
        .absolute(state.access_log.dropped());
    let body = crate::metrics::render().ok_or_else(|| {
        ApiError::internal(anyhow::anyhow!("another metrics recorder is installed"))
    })?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(body))
}
