use actix_web::web;

use crate::http::error::ApiError;
use crate::http::extract::Admin;
use crate::http::responses::Json;
use crate::http::state::AppState;
use crate::http::wire::{MeItem, OverviewItem};

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

/// `GET /admin/api/me`: who the token belongs to, and its role (SPEC §7).
#[utoipa::path(
    get,
    path = "/admin/api/me",
    tag = "admin",
    operation_id = "admin_me",
    responses(Json<MeItem>),
)]
pub async fn me(admin: Admin) -> Json<MeItem> {
    Json(MeItem::from(&admin.0))
}
