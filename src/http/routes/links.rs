use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::domain::{OrderLineId, OrderNumber};
use crate::http::error::ApiError;
use crate::http::extract::{ApiQuery, Field as _, Vendor};
use crate::http::state::AppState;
use crate::http::wire::LinkItem;
use crate::links::Action;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LineQuery {
    order_id: i64,
    order_line_id: i64,
}

/// `GET /purchase/download-url`: a fresh attachment link for a COMPLETED line.
#[utoipa::path(
    get,
    path = "/purchase/download-url",
    tag = "purchase",
    params(LineQuery),
    responses(
        (status = 200, description = "A fresh link", body = crate::http::wire::LinkItem),
        (status = 404, description = "`order_not_found`", body = crate::http::error::ErrorResponse),
        (status = 422, description = "`invalid_request`: `details.field` names the field; `order_not_accessible` (the line is not COMPLETED)", body = crate::http::error::ErrorResponse),
        crate::http::openapi::VendorAuthErrors,
        crate::http::openapi::DatabaseUnavailable
    ),
    security(("vendor_token" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn download_url(
    caller: Vendor,
    state: web::Data<AppState>,
    ApiQuery(q): ApiQuery<LineQuery>,
) -> Result<HttpResponse, ApiError> {
    link(&state, &caller, &q, Action::Download, "download-url").await
}

/// `GET /purchase/view-url`: a fresh inline link, for viewable assets only.
#[utoipa::path(
    get,
    path = "/purchase/view-url",
    tag = "purchase",
    params(LineQuery),
    responses(
        (status = 200, description = "A fresh inline link", body = crate::http::wire::LinkItem),
        (status = 404, description = "`order_not_found`", body = crate::http::error::ErrorResponse),
        (status = 422, description = "`invalid_request`: `details.field` names the field; `order_not_accessible`, `asset_not_viewable`", body = crate::http::error::ErrorResponse),
        crate::http::openapi::VendorAuthErrors,
        crate::http::openapi::DatabaseUnavailable
    ),
    security(("vendor_token" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn view_url(
    caller: Vendor,
    state: web::Data<AppState>,
    ApiQuery(q): ApiQuery<LineQuery>,
) -> Result<HttpResponse, ApiError> {
    link(&state, &caller, &q, Action::View, "view-url").await
}

async fn link(
    state: &AppState,
    caller: &Vendor,
    q: &LineQuery,
    action: Action,
    via: &'static str,
) -> Result<HttpResponse, ApiError> {
    let line = OrderLineId::parse(q.order_line_id).field("order_line_id")?;
    let order = OrderNumber::parse(q.order_id).field("order_id")?;
    let minted = state
        .app
        .link(
            &caller.actor(),
            caller.tenant.order(order),
            line,
            action,
            via,
        )
        .await?;
    Ok(HttpResponse::Ok().json(LinkItem::from(minted)))
}
