use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::{decode_cursor, encode_cursor, page_size};
use crate::app::search::{HistoryPage, OrderCursor, OrderFilter};
use crate::domain::{
    CancelReasonCode, CancelWhy, Environment, LineStatus, OrderLineId, OrderNumber, OrderRef,
    Tenant, VendorId,
};
use crate::http::error::ApiError;
use crate::http::extract::{Admin, ApiJson, ApiQuery, Field as _, path_param};
use crate::http::routes::cancel::parse_why;
use crate::http::state::AppState;
use crate::http::wire::{LinkItem, OrderDetailItem, OrderSummaryItem};
use crate::links::Action;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    pub vendor_id: Option<String>,
    pub environment: Option<String>,
    pub status: Option<String>,
    pub reason_code: Option<String>,
    pub q: Option<String>,
    pub created_from: Option<String>,
    pub created_to: Option<String>,
    pub page_size: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct OrderPageItem {
    orders: Vec<OrderSummaryItem>,
    next_cursor: Option<String>,
}

/// The value if given and not blank.
fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// An RFC 3339 timestamp (or a date, meaning its midnight UTC), in ms.
pub fn parse_time(field: &str, raw: &str) -> Result<i64, ApiError> {
    let raw = raw.trim();
    chrono::DateTime::parse_from_rfc3339(raw)
        .map(|t| t.timestamp_millis())
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d").map(|d| {
                d.and_time(chrono::NaiveTime::MIN)
                    .and_utc()
                    .timestamp_millis()
            })
        })
        .map_err(|_| ApiError::invalid(field, "must be an RFC 3339 time or a YYYY-MM-DD date"))
}

impl SearchQuery {
    /// The filter: `q` of digits is an order number, anything else a customer substring.
    pub fn filter(&self) -> Result<OrderFilter, ApiError> {
        let q = self.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
        if q.is_some_and(|q| q.chars().count() > 200) {
            return Err(ApiError::invalid("q", "must be at most 200 characters"));
        }
        let number = q.filter(|q| q.bytes().all(|b| b.is_ascii_digit()));
        Ok(OrderFilter {
            vendor: given(&self.vendor_id)
                .map(VendorId::parse)
                .transpose()
                .field("vendor_id")?,
            environment: given(&self.environment)
                .map(str::parse::<Environment>)
                .transpose()
                .field("environment")?,
            status: given(&self.status)
                .map(|s| s.to_ascii_uppercase().parse::<LineStatus>())
                .transpose()
                .field("status")?,
            reason_code: given(&self.reason_code)
                .map(|s| s.to_ascii_lowercase().parse::<CancelReasonCode>())
                .transpose()
                .field("reason_code")?,
            order_number: number
                .map(|n| {
                    n.parse::<i64>()
                        .ok()
                        .and_then(|n| OrderNumber::parse(n).ok())
                        .ok_or_else(|| ApiError::invalid("q", "is not an order number"))
                })
                .transpose()?,
            customer: q.filter(|_| number.is_none()).map(str::to_owned),
            created_from_ms: given(&self.created_from)
                .map(|t| parse_time("created_from", t))
                .transpose()?,
            created_to_ms: given(&self.created_to)
                .map(|t| parse_time("created_to", t))
                .transpose()?,
        })
    }

    pub fn cursor(&self) -> Result<Option<OrderCursor>, ApiError> {
        self.cursor
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(|c| {
                decode_cursor::<2>(c).map(|[created_at_ms, id]| OrderCursor { created_at_ms, id })
            })
            .transpose()
    }

    pub fn page_size(&self) -> Result<u64, ApiError> {
        page_size(self.page_size, 50, 200)
    }
}

/// `GET /admin/api/orders`: across vendors, newest first, keyset-paginated.
#[utoipa::path(
    get,
    path = "/admin/api/orders",
    tag = "admin",
    operation_id = "admin_orders_search",
    params(SearchQuery),
    responses(
        (status = 200, description = "Orders, newest first", body = OrderPageItem),
        (status = 422, description = "`invalid_request`: `details.field` names the field", body = crate::http::error::ErrorResponse),
        crate::http::openapi::AdminAuthErrors,
        crate::http::openapi::DatabaseUnavailable
    ),
    security(("admin_token" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn search(
    _admin: Admin,
    state: web::Data<AppState>,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = state
        .app
        .search_orders(&q.filter()?, q.cursor()?, q.page_size()?)
        .await?;
    Ok(HttpResponse::Ok().json(OrderPageItem {
        orders: page.orders.into_iter().map(Into::into).collect(),
        next_cursor: page.next.map(|c| encode_cursor(&[c.created_at_ms, c.id])),
    }))
}

/// The order a path `/{vendor_id}/{environment}/{order_id}` names.
pub fn order_of(req: &HttpRequest) -> Result<OrderRef, ApiError> {
    let vendor = path_param(req, "vendor_id", VendorId::parse)?;
    let environment = path_param(req, "environment", str::parse::<Environment>)?;
    let order = path_param(req, "order_id", |s| {
        s.parse::<i64>()
            .map_err(|_| "must be an integer >= 1".to_owned())
            .and_then(|n| OrderNumber::parse(n).map_err(|e| e.to_string()))
    })?;
    Ok(Tenant {
        vendor,
        environment,
    }
    .order(order))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DetailQuery {
    history_limit: Option<i64>,
    history_before: Option<String>,
}

impl DetailQuery {
    pub fn page(&self) -> Result<HistoryPage, ApiError> {
        Ok(HistoryPage {
            limit: page_size(self.history_limit, 200, 1000).map_err(|_| {
                ApiError::invalid("history_limit", "must be an integer from 1 to 1000")
            })?,
            before_ms: self
                .history_before
                .as_deref()
                .map(|t| parse_time("history_before", t))
                .transpose()?,
        })
    }
}

/// `GET /admin/api/orders/{vendor_id}/{environment}/{order_id}`.
#[utoipa::path(
    get,
    path = "/admin/api/orders/{vendor_id}/{environment}/{order_id}",
    tag = "admin",
    operation_id = "admin_order_detail",
    params(("vendor_id" = String, Path, description = "The vendor"), ("environment" = String, Path, description = "LIVE or SANDBOX"), ("order_id" = i64, Path, description = "The order number"), DetailQuery),
    responses(
        (status = 200, description = "The order, its lines' revocation state and its history", body = crate::http::wire::OrderDetailItem),
        (status = 404, description = "`order_not_found`", body = crate::http::error::ErrorResponse),
        (status = 422, description = "`invalid_request`: `details.field` names the field", body = crate::http::error::ErrorResponse),
        crate::http::openapi::AdminAuthErrors,
        crate::http::openapi::DatabaseUnavailable
    ),
    security(("admin_token" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn detail(
    _admin: Admin,
    state: web::Data<AppState>,
    req: HttpRequest,
    ApiQuery(q): ApiQuery<DetailQuery>,
) -> Result<HttpResponse, ApiError> {
    let detail = state.app.order_detail(order_of(&req)?, q.page()?).await?;
    Ok(HttpResponse::Ok().json(OrderDetailItem::from(detail)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = AdminCancelBody)]
pub struct CancelBody {
    order_line_id: Option<i64>,
    reason: String,
    reason_code: Option<String>,
}

impl CancelBody {
    /// The line (if one) and the reason, which operators must give.
    pub fn parse(&self) -> Result<(Option<OrderLineId>, CancelWhy), ApiError> {
        if self.reason.trim().is_empty() {
            return Err(ApiError::invalid(
                "reason",
                "must say why (1 to 500 characters)",
            ));
        }
        let reason = parse_why(Some(&self.reason), self.reason_code.as_deref())?;
        let line = self
            .order_line_id
            .map(OrderLineId::parse)
            .transpose()
            .field("order_line_id")?;
        Ok((line, reason))
    }
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
        (status = 201, description = "Canceled and in force on every instance", body = crate::http::wire::OrderDetailItem),
        (status = 404, description = "`order_not_found`", body = crate::http::error::ErrorResponse),
        (status = 408, description = "`request_timeout`: the body did not arrive in time", body = crate::http::error::ErrorResponse),
        (status = 413, description = "`payload_too_large`: the body exceeds `server.max_body_bytes`", body = crate::http::error::ErrorResponse),
        (status = 422, description = "`invalid_request`: `details.field` names the field; `order_not_cancelable`", body = crate::http::error::ErrorResponse),
        (status = 503, description = "`revocation_unavailable` or `database_unavailable`", body = crate::http::error::ErrorResponse, headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
        crate::http::openapi::AdminAuthErrors
    ),
    security(("admin_token" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn cancel(
    Admin(operator): Admin,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ApiJson<CancelBody>,
) -> Result<HttpResponse, ApiError> {
    let order = order_of(&req)?;
    let (line, reason) = body.value.parse()?;
    state
        .app
        .operator_cancel(&operator, order, line, &reason)
        .await?;
    let detail = state
        .app
        .order_detail(
            order,
            HistoryPage {
                limit: 200,
                before_ms: None,
            },
        )
        .await?;
    Ok(HttpResponse::build(StatusCode::CREATED).json(OrderDetailItem::from(detail)))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct LinkBody {
    action: Action,
}

/// `POST /admin/api/orders/{vendor_id}/{environment}/{order_id}/lines/{order_line_id}/links`.
#[utoipa::path(
    post,
    path = "/admin/api/orders/{vendor_id}/{environment}/{order_id}/lines/{order_line_id}/links",
    tag = "admin",
    operation_id = "admin_order_link",
    params(("vendor_id" = String, Path, description = "The vendor"), ("environment" = String, Path, description = "LIVE or SANDBOX"), ("order_id" = i64, Path, description = "The order number"), ("order_line_id" = i64, Path, description = "The line")),
    request_body = LinkBody,
    responses(
        (status = 201, description = "A fresh link for support", body = crate::http::wire::LinkItem),
        (status = 404, description = "`order_not_found`", body = crate::http::error::ErrorResponse),
        (status = 408, description = "`request_timeout`: the body did not arrive in time", body = crate::http::error::ErrorResponse),
        (status = 413, description = "`payload_too_large`: the body exceeds `server.max_body_bytes`", body = crate::http::error::ErrorResponse),
        (status = 422, description = "`invalid_request`: `details.field` names the field; `order_not_accessible`, `asset_not_viewable`", body = crate::http::error::ErrorResponse),
        crate::http::openapi::AdminAuthErrors,
        crate::http::openapi::DatabaseUnavailable
    ),
    security(("admin_token" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn link(
    Admin(operator): Admin,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ApiJson<LinkBody>,
) -> Result<HttpResponse, ApiError> {
    let order = order_of(&req)?;
    let line = path_param(&req, "order_line_id", |s| {
        s.parse::<i64>()
            .map_err(|_| "must be an integer >= 1".to_owned())
            .and_then(|n| OrderLineId::parse(n).map_err(|e| e.to_string()))
    })?;
    let minted = state
        .app
        .operator_link(&operator, order, line, body.value.action)
        .await?;
    Ok(HttpResponse::Ok().json(LinkItem::from(minted)))
}
