use actix_web::{HttpResponse, web};

use crate::http::error::ApiError;
use crate::http::extract::Admin;
use crate::http::state::AppState;
use crate::http::wire::OverviewItem;

/// `GET /admin/api/overview`.
#[utoipa::path(
    get,
    path = "/admin/api/overview",
    tag = "admin",
    operation_id = "admin_overview",
    responses(
        (status = 200, description = "Right now, across every vendor", body = crate::http::wire::OverviewItem),
        crate::http::openapi::AdminAuthErrors,
        crate::http::openapi::DatabaseUnavailable
    ),
    security(("admin_token" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn overview(_admin: Admin, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let overview = state.app.overview().await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(OverviewItem::from(overview)))
}
