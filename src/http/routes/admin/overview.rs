use actix_web::{HttpResponse, web};

use crate::http::error::ApiError;
use crate::http::extract::Admin;
use crate::http::wire::OverviewItem;
use crate::state::AppState;

/// `GET /admin/api/overview`.
#[tracing::instrument(skip_all)]
pub async fn overview(_admin: Admin, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let overview = state.app.overview().await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(OverviewItem::from(overview)))
}
