use actix_web::{HttpRequest, web};
use serde::Deserialize;

use crate::app::search::HistoryPage;
use crate::domain::OrderLineId;
use crate::http::error::ApiError;
use crate::http::extract::{Admin, ApiJson, ApiQuery};
use crate::http::params::{
    CancelBody, DetailQuery, SearchQuery, encode_cursor, order_of, path_number,
};
use crate::http::responses::{Created, Json, OrderPage};
use crate::http::state::AppState;
use crate::http::wire::{LinkItem, OrderDetailItem};
use crate::links::Action;

/// `GET /admin/api/orders`: across vendors, newest first, keyset-paginated.
#[utoipa::path(
    get,
    path = "/admin/api/orders",
    tag = "admin",
    operation_id = "admin_orders_search",
    params(SearchQuery),
    responses(
        Json<OrderPage>,
        crate::http::responses::Invalid,
        crate::http::responses::DatabaseUnavailable
    )
)]
#[tracing::instrument(skip_all)]
pub async fn search(
    _admin: Admin,
    state: web::Data<AppState>,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> Result<Json<OrderPage>, ApiError> {
    let page = state
        .app
        .search_orders(&q.filter()?, q.cursor()?, q.page_size()?)
        .await?;
    Ok(Json(OrderPage {
        orders: page.orders.into_iter().map(Into::into).collect(),
        next_cursor: page.next.map(|c| encode_cursor(&[c.created_at_ms, c.id])),
    }))
}

/// `GET /admin/api/orders/{vendor_id}/{environment}/{order_id}`: the order,
/// its lines' revocation state and its history.
#[utoipa::path(
    get,
    path = "/admin/api/orders/{vendor_id}/{environment}/{order_id}",
    tag = "admin",
    operation_id = "admin_order_detail",
    params(("vendor_id" = String, Path, description = "The vendor"), ("environment" = String, Path, description = "LIVE or SANDBOX"), ("order_id" = i64, Path, description = "The order number"), DetailQuery),
    responses(
        Json<OrderDetailItem>,
        (status = 404, description = "`order_not_found`", body = crate::http::error::ErrorResponse),
        crate::http::responses::Invalid,
        crate::http::responses::DatabaseUnavailable
    )
)]
#[tracing::instrument(skip_all)]
pub async fn detail(
    _admin: Admin,
    state: web::Data<AppState>,
    req: HttpRequest,
    ApiQuery(q): ApiQuery<DetailQuery>,
) -> Result<Json<OrderDetailItem>, ApiError> {
    let detail = state.app.order_detail(order_of(&req)?, q.page()?).await?;
    Ok(Json(detail.into()))
}

/// `POST /admin/api/orders/{vendor_id}/{environment}/{order_id}/cancel`: 201
/// with the order once the revocation is in force on every instance.
#[utoipa::path(
    post,
    path = "/admin/api/orders/{vendor_id}/{environment}/{order_id}/cancel",
    tag = "admin",
    operation_id = "admin_order_cancel",
    params(("vendor_id" = String, Path, description = "The vendor"), ("environment" = String, Path, description = "LIVE or SANDBOX"), ("order_id" = i64, Path, description = "The order number")),
    request_body = CancelBody,
    responses(
        Created<OrderDetailItem>,
        (status = 404, description = "`order_not_found`", body = crate::http::error::ErrorResponse),
        (status = 422, description = "`invalid_request`: `details.field` names the field; `order_not_cancelable`", body = crate::http::error::ErrorResponse),
        (status = 503, description = "`revocation_unavailable` or `database_unavailable`", body = crate::http::error::ErrorResponse, headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
        crate::http::responses::BodyErrors
    )
)]
#[tracing::instrument(skip_all)]
pub async fn cancel(
    Admin(operator): Admin,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ApiJson<CancelBody>,
) -> Result<Created<OrderDetailItem>, ApiError> {
    let order = order_of(&req)?;
    let (line, reason) = body.value.parse()?;
    state
        .app
        .operator_cancel(&operator, order, line, &reason)
        .await?;
    let detail = state.app.order_detail(order, HistoryPage::LATEST).await?;
    Ok(Json(detail.into()))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct LinkBody {
    action: Action,
}

/// `POST /admin/api/orders/{vendor_id}/{environment}/{order_id}/lines/{order_line_id}/links`:
/// a fresh link for support.
#[utoipa::path(
    post,
    path = "/admin/api/orders/{vendor_id}/{environment}/{order_id}/lines/{order_line_id}/links",
    tag = "admin",
    operation_id = "admin_order_link",
    params(("vendor_id" = String, Path, description = "The vendor"), ("environment" = String, Path, description = "LIVE or SANDBOX"), ("order_id" = i64, Path, description = "The order number"), ("order_line_id" = i64, Path, description = "The line")),
    request_body = LinkBody,
    responses(
        Json<LinkItem>,
        (status = 404, description = "`order_not_found`", body = crate::http::error::ErrorResponse),
        (status = 422, description = "`invalid_request`: `details.field` names the field; `order_not_accessible`, `asset_not_viewable`", body = crate::http::error::ErrorResponse),
        crate::http::responses::BodyErrors,
        crate::http::responses::DatabaseUnavailable
    )
)]
#[tracing::instrument(skip_all)]
pub async fn link(
    Admin(operator): Admin,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ApiJson<LinkBody>,
) -> Result<Json<LinkItem>, ApiError> {
    let order = order_of(&req)?;
    let line = path_number(&req, "order_line_id", OrderLineId::parse)?;
    let minted = state
        .app
        .operator_link(&operator, order, line, body.value.action)
        .await?;
    Ok(Json(minted.into()))
}
