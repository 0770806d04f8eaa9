use actix_web::{HttpResponse, web};

use crate::state::AppState;

/// `GET /health`: public; 503 with the same list when any check fails.
#[tracing::instrument(skip_all)]
pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    let checks = state.app.health().await;
    let mut res = if checks.iter().all(|c| c.health) {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    res.insert_header(("Cache-Control", "no-store"))
        .json(checks)
}
