//! `GET /purchase/list` (extension): the caller's lines, newest first, for
//! reconciliation. Links are not minted here (info, download-url and view-url do).

use actix_web::web;
use serde::Deserialize;

use crate::app::LineFilter;
use crate::domain::{LineId, LineStatus};
use crate::http::error::ApiError;
use crate::http::extract::{ApiQuery, Vendor};
use crate::http::params::{decode_cursor, encode_cursor, optional_time, page_size};
use crate::http::responses::{Json, LinePage};
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

impl ListQuery {
    fn filter(&self) -> Result<LineFilter, ApiError> {
        let statuses = self
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
        Ok(LineFilter {
            statuses,
            created_from_ms: optional_time("created_from", &self.created_from)?,
            created_to_ms: optional_time("created_to", &self.created_to)?,
        })
    }

    fn after(&self) -> Result<Option<(i64, LineId)>, ApiError> {
        self.cursor
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(|c| {
                decode_cursor::<2>(c).and_then(|[created, line]| {
                    LineId::parse(line).map(|l| (created, l)).map_err(|_| {
                        ApiError::invalid("cursor", "is not a cursor this API returned")
                    })
                })
            })
            .transpose()
    }
}

/// `GET /purchase/list`: the caller's lines, newest first.
#[utoipa::path(
    get,
    path = "/purchase/list",
    tag = "purchase",
    operation_id = "purchase_list",
    params(ListQuery),
    responses(Json<LinePage>),
)]
pub async fn list(
    caller: Vendor,
    state: web::Data<AppState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<LinePage>, ApiError> {
    let limit = page_size(q.page_size, 50, 200)?;
    let page = state
        .app
        .list_lines(caller.tenant, &q.filter()?, q.after()?, limit)
        .await?;
    Ok(Json(LinePage {
        items: page.lines.into_iter().map(OrderItem::of_line).collect(),
        next_cursor: page
            .next
            .map(|(created, line)| encode_cursor(&[created, line.get()])),
    }))
}
