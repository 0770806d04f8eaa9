use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::domain::{CancelReason, OrderLineId, OrderNumber};
use crate::http::error::ApiError;
use crate::http::extract::{ApiQuery, Field as _, IdempotencyHeader, OptionalJson, Vendor};
use crate::http::idempotency::{Attempt, Reply, idempotent};
use crate::http::wire::order_items;
use crate::state::AppState;

#[derive(Deserialize)]
pub struct CancelQuery {
    order_id: i64,
    order_line_id: Option<i64>,
    reason: Option<String>,
}

#[derive(Deserialize)]
pub struct CancelBody {
    reason: Option<String>,
}

/// `DELETE /purchase/cancel`: cancels one line or every cancelable line of an
/// order. Answers 201 only once the revocation is in force for every instance.
#[tracing::instrument(skip_all)]
pub async fn cancel(
    caller: Vendor,
    state: web::Data<AppState>,
    req: HttpRequest,
    IdempotencyHeader(key): IdempotencyHeader,
    ApiQuery(q): ApiQuery<CancelQuery>,
    OptionalJson(body): OptionalJson<CancelBody>,
) -> Result<HttpResponse, ApiError> {
    let reason_raw = q.reason.or_else(|| body.and_then(|b| b.reason));
    let fingerprint_body = reason_raw.clone().unwrap_or_default();
    let app = &state.app;
    let actor = caller.actor();
    idempotent(
        &state,
        caller.tenant,
        key,
        &req,
        fingerprint_body.as_bytes(),
        |attempt| async move {
            let reason = CancelReason::parse(reason_raw.as_deref()).field("reason")?;
            let line = q
                .order_line_id
                .map(OrderLineId::parse)
                .transpose()
                .field("order_line_id")?;
            let order = OrderNumber::parse(q.order_id).field("order_id")?;
            let order = caller.tenant.order(order);
            let lines = match attempt {
                Attempt::First => app.cancel(&actor, order, line, &reason).await?,
                // The first attempt canceled the lines; put their revocation in force.
                Attempt::Resume => app.resume_cancel(&actor, order).await?,
            };
            Ok(Reply {
                status: StatusCode::CREATED,
                body: serde_json::to_value(order_items(lines)).map_err(ApiError::internal)?,
            })
        },
    )
    .await
}
