use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::domain::{LineStatus, OrderNumber};
use crate::http::error::ApiError;
use crate::http::extract::{ApiQuery, Caller};
use crate::http::order_item::order_items;
use crate::state::AppState;
use crate::store::orders::OrderLine;

#[derive(Deserialize)]
pub struct InfoQuery {
    order_id: i64,
}

/// Lines of one of the caller's orders; 404 for unknown or foreign orders alike.
pub async fn load_order(
    state: &AppState,
    caller: &Caller,
    order_id: i64,
) -> Result<(OrderNumber, Vec<OrderLine>), ApiError> {
    let order = OrderNumber::parse(order_id).map_err(|e| ApiError::invalid("order_id", e))?;
    tracing::Span::current().record("order_id", order.get());
    let lines = state
        .store
        .order_lines(caller.vendor, caller.environment, order)
        .await?;
    if lines.is_empty() {
        return Err(ApiError::OrderNotFound {
            order_id,
            order_line_id: None,
        });
    }
    Ok((order, lines))
}

/// `GET /purchase/info?order_id=N`: 202 while any line is PROCESSING, 502 when every
/// line FAILED, else 200 with the order's items.
#[tracing::instrument(skip_all)]
pub async fn info(
    caller: Caller,
    state: web::Data<AppState>,
    ApiQuery(q): ApiQuery<InfoQuery>,
) -> Result<HttpResponse, ApiError> {
    let (_, lines) = load_order(&state, &caller, q.order_id).await?;
    if lines.iter().any(|l| l.status == LineStatus::Processing) {
        return Ok(HttpResponse::Accepted()
            .insert_header(("Retry-After", "1"))
            .json(json!({"status": "PROCESSING"})));
    }
    if lines.iter().all(|l| l.status == LineStatus::Failed) {
        let message = lines
            .iter()
            .filter_map(|l| l.failure_message.as_deref())
            .next()
            .unwrap_or("Fulfilment failed");
        return Ok(HttpResponse::BadGateway().json(json!({
            "status": "FAILED",
            "message": format!("Every line of order {} failed: {message}", q.order_id),
        })));
    }
    Ok(HttpResponse::Ok().json(order_items(&state, &lines, "info").await?))
}
