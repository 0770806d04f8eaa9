//! `GET /purchase/list` (extension): the caller's lines, newest first, for
//! reconciliation. Links are not minted here (info, download-url and view-url do).

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::admin::orders::parse_time;
use super::admin::{decode_cursor, encode_cursor, page_size};
use crate::app::LineFilter;
use crate::domain::{LineId, LineStatus};
use crate::http::error::ApiError;
use crate::http::extract::{ApiQuery, Vendor};
use crate::http::state::AppState;
use crate::http::wire::OrderItem;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    status: Option<String>,
    created_from: Option<String>,
    created_to: Option<String>,
    page_size: Option<i64>,
    cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct LinePage {
    items: Vec<OrderItem>,
    next_cursor: Option<String>,
}

#[utoipa::path(
    get,
    path = "/purchase/list",
    tag = "purchase",
    operation_id = "purchase_list",
    params(ListQuery),
    responses(
        (status = 200, description = "The caller's lines, newest first", body = LinePage),
        (status = 422, description = "`invalid_request`: `details.field` names the field", body = crate::http::error::ErrorResponse),
        crate::http::openapi::VendorAuthErrors,
        crate::http::openapi::DatabaseUnavailable
    ),
    security(("vendor_token" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn list(
    caller: Vendor,
    state: web::Data<AppState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let statuses = q
        .status
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.to_ascii_uppercase().parse::<LineStatus>().map_err(|_| {
                ApiError::invalid(
                    "status",
                    "must be PROCESSING, COMPLETED, CANCELED or FAILED (comma-separated)",
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let time = |field: &str, v: &Option<String>| {
        v.as_deref()
            .filter(|t| !t.trim().is_empty())
            .map(|t| parse_time(field, t))
            .transpose()
    };
    let filter = LineFilter {
        statuses,
        created_from_ms: time("created_from", &q.created_from)?,
        created_to_ms: time("created_to", &q.created_to)?,
    };
    let after = q
        .cursor
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(|c| {
            decode_cursor::<2>(c).and_then(|[created, line]| {
                LineId::parse(line)
                    .map(|l| (created, l))
                    .map_err(|_| ApiError::invalid("cursor", "is not a cursor this API returned"))
            })
        })
        .transpose()?;
    let page = state
        .app
        .list_lines(
            caller.tenant,
            &filter,
            after,
            page_size(q.page_size, 50, 200)?,
        )
        .await?;
    Ok(HttpResponse::Ok().json(LinePage {
        items: page.lines.into_iter().map(OrderItem::of_line).collect(),
        next_cursor: page
            .next
            .map(|(created, line)| encode_cursor(&[created, line.get()])),
    }))
}
