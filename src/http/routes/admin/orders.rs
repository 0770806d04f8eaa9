use actix_web::web;
use serde::Deserialize;

use crate::app::search::HistoryPage;
use crate::domain::OrderLineId;
use crate::http::error::{ApiError, ErrorResponse};
use crate::http::extract::{Admin, ApiJson, ApiQuery};
use crate::http::params::{CancelBody, DetailQuery, SearchQuery, encode_cursor};
use crate::http::path::{At, InOrder};
use crate::http::responses::{
    BodyErrors, Created, Json, OrderNotFound, OrderPage, RevocationUnavailable, RoleForbidden,
};
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
    responses(Json<OrderPage>),
)]
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
    params(InOrder, DetailQuery),
    responses(Json<OrderDetailItem>, OrderNotFound),
)]
pub async fn detail(
    _admin: Admin,
    state: web::Data<AppState>,
    InOrder(order): InOrder,
    ApiQuery(q): ApiQuery<DetailQuery>,
) -> Result<Json<OrderDetailItem>, ApiError> {
    let detail = state.app.order_detail(order, q.page()?).await?;
    Ok(Json(detail.into()))
}

/// `POST /admin/api/orders/{vendor_id}/{environment}/{order_id}/cancel`: 201
/// with the order once the revocation is in force on every instance.
#[utoipa::path(
    post,
    path = "/admin/api/orders/{vendor_id}/{environment}/{order_id}/cancel",
    tag = "admin",
    operation_id = "admin_order_cancel",
    params(InOrder),
    request_body = CancelBody,
    responses(
        Created<OrderDetailItem>,
        OrderNotFound,
        RoleForbidden,
        (status = 422, description = "`invalid_request`: `details.field` names the field; `order_not_cancelable`", body = ErrorResponse),
        RevocationUnavailable,
        BodyErrors
    )
)]
pub async fn cancel(
    Admin(operator): Admin,
    state: web::Data<AppState>,
    InOrder(order): InOrder,
    body: ApiJson<CancelBody>,
) -> Result<Created<OrderDetailItem>, ApiError> {
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
    /// How long the link stays valid, in seconds (60 to 604800); the
    /// configured `links.ttl_seconds` when absent.
    lifetime_seconds: Option<i64>,
}

/// `POST /admin/api/orders/{vendor_id}/{environment}/{order_id}/lines/{order_line_id}/links`:
/// a fresh link for support.
#[utoipa::path(
    post,
    path = "/admin/api/orders/{vendor_id}/{environment}/{order_id}/lines/{order_line_id}/links",
    tag = "admin",
    operation_id = "admin_order_link",
    params(InOrder, At<OrderLineId>),
    request_body = LinkBody,
    responses(
        Json<LinkItem>,
        OrderNotFound,
        RoleForbidden,
        (status = 422, description = "`invalid_request`: `details.field` names the field; `order_not_accessible`, `asset_not_viewable`", body = ErrorResponse),
        BodyErrors
    )
)]
pub async fn link(
    Admin(operator): Admin,
    state: web::Data<AppState>,
    InOrder(order): InOrder,
    At(line): At<OrderLineId>,
    body: ApiJson<LinkBody>,
) -> Result<Json<LinkItem>, ApiError> {
    let minted = state
        .app
        .operator_link(
            &operator,
            order,
            line,
            body.value.action,
            body.value.lifetime_seconds,
        )
        .await?;
    Ok(Json(minted.into()))
}
