use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::app::Info;
use crate::domain::OrderNumber;
use crate::http::error::ApiError;
use crate::http::extract::{ApiQuery, Field as _, Vendor};
use crate::http::state::AppState;
use crate::http::wire::order_items;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InfoQuery {
    order_id: i64,
}

/// `GET /purchase/info?order_id=N`: 202 while any line is PROCESSING, 502 when every
/// line FAILED, else 200 with the order's items.
#[utoipa::path(
    get,
    path = "/purchase/info",
    tag = "purchase",
    params(InfoQuery),
    responses(
        (status = 200, description = "The order's items (links for COMPLETED lines)", body = Vec<crate::app::items::OrderItem>),
        (status = 202, description = "Still PROCESSING", body = crate::http::openapi::OrderPending, headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
        (status = 404, description = "`order_not_found`", body = crate::http::error::ErrorResponse),
        (status = 422, description = "`invalid_request`: `details.field` names the field", body = crate::http::error::ErrorResponse),
        (status = 502, description = "Every line FAILED", body = crate::http::openapi::OrderPending),
        crate::http::openapi::VendorAuthErrors,
        crate::http::openapi::DatabaseUnavailable
    ),
    security(("vendor_token" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn info(
    caller: Vendor,
    state: web::Data<AppState>,
    ApiQuery(q): ApiQuery<InfoQuery>,
) -> Result<HttpResponse, ApiError> {
    let order = OrderNumber::parse(q.order_id).field("order_id")?;
    let info = state
        .app
        .info(&caller.actor(), caller.tenant.order(order))
        .await?;
    Ok(match info {
        Info::Processing => HttpResponse::Accepted()
            .insert_header(("Retry-After", "1"))
            .json(json!({"status": "PROCESSING"})),
        Info::AllFailed { message } => {
            HttpResponse::BadGateway().json(json!({"status": "FAILED", "message": message}))
        }
        Info::Ready(lines) => HttpResponse::Ok().json(order_items(lines)),
    })
}
