use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::info::load_order;
use crate::domain::{LineStatus, OrderLineId, ms_to_rfc3339};
use crate::http::error::ApiError;
use crate::http::extract::{ApiQuery, Caller};
use crate::http::order_item::mint_link;
use crate::links::Action;
use crate::state::AppState;

#[derive(Deserialize)]
pub struct LineQuery {
    order_id: i64,
    order_line_id: i64,
}

/// `GET /purchase/download-url`: a fresh attachment link for a COMPLETED line.
#[tracing::instrument(skip_all)]
pub async fn download_url(
    caller: Caller,
    state: web::Data<AppState>,
    ApiQuery(q): ApiQuery<LineQuery>,
) -> Result<HttpResponse, ApiError> {
    link(&state, &caller, &q, Action::Download).await
}

/// `GET /purchase/view-url`: a fresh inline link, for viewable assets only.
#[tracing::instrument(skip_all)]
pub async fn view_url(
    caller: Caller,
    state: web::Data<AppState>,
    ApiQuery(q): ApiQuery<LineQuery>,
) -> Result<HttpResponse, ApiError> {
    link(&state, &caller, &q, Action::View).await
}

async fn link(
    state: &AppState,
    caller: &Caller,
    q: &LineQuery,
    action: Action,
) -> Result<HttpResponse, ApiError> {
    let line_no =
        OrderLineId::parse(q.order_line_id).map_err(|e| ApiError::invalid("order_line_id", e))?;
    let (_, lines) = load_order(state, caller, q.order_id).await?;
    let line =
        lines
            .iter()
            .find(|l| l.order_line_id == line_no)
            .ok_or(ApiError::OrderNotFound {
                order_id: q.order_id,
                order_line_id: Some(q.order_line_id),
            })?;
    tracing::Span::current().record("line_id", line.line_id.get());
    if line.status != LineStatus::Completed {
        return Err(ApiError::OrderNotAccessible {
            order_id: q.order_id,
            order_line_id: q.order_line_id,
            current_status: line.status.to_string(),
        });
    }
    let asset = state
        .store
        .get_asset(line.asset_id)
        .await?
        .ok_or(ApiError::AssetNotFound {
            asset_id: line.asset_id.get(),
        })?;
    if action == Action::View && !asset.viewable {
        return Err(ApiError::AssetNotViewable {
            asset_id: asset.asset_id.get(),
        });
    }
    let via = format!("{}-url", action.as_str());
    let (minted, event) = mint_link(state, line, &asset, action, &via)?;
    state.store.record_events(vec![event]).await?;
    Ok(HttpResponse::Ok().json(json!({
        "url": minted.url,
        "expires_at": ms_to_rfc3339(minted.expires_at * 1000),
    })))
}
