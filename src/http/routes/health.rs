use actix_web::{HttpResponse, web};

use crate::http::responses::HealthCheck;
use crate::http::state::AppState;

/// `GET /health`: public; 503 with the same list when any check fails.
#[utoipa::path(
    get,
    path = "/health",
    tag = "operations",
    responses(
        (status = 200, description = "Every check passed", body = Vec<HealthCheck>),
        (status = 503, description = "A check failed (same list)", body = Vec<HealthCheck>)
    )
)]
pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    let checks = state.app.health().await;
    let mut res = if checks.iter().all(|c| c.health) {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    res.insert_header(("Cache-Control", "no-store")).json(
        checks
            .into_iter()
            .map(HealthCheck::from)
            .collect::<Vec<_>>(),
    )
}
