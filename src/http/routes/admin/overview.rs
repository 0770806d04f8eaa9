use actix_web::web;

use crate::http::error::ApiError;
use crate::http::extract::Admin;
use crate::http::responses::Json;
use crate::http::state::AppState;
use crate::http::wire::OverviewItem;

/// `GET /admin/api/overview`: right now, across every vendor.
#[utoipa::path(
    get,
    path = "/admin/api/overview",
    tag = "admin",
    operation_id = "admin_overview",
    responses(Json<OverviewItem>),
)]
pub async fn overview(
    _admin: Admin,
    state: web::Data<AppState>,
) -> Result<Json<OverviewItem>, ApiError> {
    Ok(Json(state.app.overview().await?.into()))
}
