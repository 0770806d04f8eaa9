//! `POST /purchase/cancel-batch` (extension): up to 500 lines or whole orders
//! canceled in one call, one transaction and one round of revocation writes.
//! When it answers, every entry reported `canceled` is in force on every
//! instance, exactly as for a single cancel.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::app::CancelTarget;
use crate::app::idempotency::{Attempt, Work};
use crate::domain::{OrderLineId, OrderNumber};
use crate::http::error::{ApiError, ErrorResponse};
use crate::http::extract::{ApiJson, Field as _, IdempotencyHeader, Vendor};
use crate::http::params::parse_why;
use crate::http::responses::{
    BatchAnswer, BatchEntry, BatchResult, BodyErrors, InProgress, Json, idempotent,
};
use crate::http::state::AppState;

/// The most entries one call may carry.
pub const MAX_ENTRIES: usize = 500;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct BatchBody {
    lines: Vec<EntryBody>,
    reason: Option<String>,
    reason_code: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
struct EntryBody {
    order_id: i64,
    order_line_id: Option<i64>,
}

/// `POST /purchase/cancel-batch`: up to 500 lines or whole orders canceled at once; one
/// result per entry, in input order (`canceled` entries are in force on every instance).
#[utoipa::path(
    post,
    path = "/purchase/cancel-batch",
    tag = "purchase",
    params(IdempotencyHeader),
    request_body = BatchBody,
    responses(
        Json<BatchAnswer>,
        InProgress,
        (status = 422, description = "`invalid_request`: `details.field` names the field; `idempotency_key_reused`", body = ErrorResponse),
        BodyErrors
    )
)]
pub async fn cancel_batch(
    caller: Vendor,
    state: web::Data<AppState>,
    req: HttpRequest,
    IdempotencyHeader(key): IdempotencyHeader,
    ApiJson { value, raw }: ApiJson<BatchBody>,
) -> Result<HttpResponse, ApiError> {
    if value.lines.is_empty() || value.lines.len() > MAX_ENTRIES {
        return Err(ApiError::invalid(
            "lines",
            format!("must hold 1 to {MAX_ENTRIES} entries"),
        ));
    }
    let targets = value
        .lines
        .iter()
        .enumerate()
        .map(|(i, e)| {
            Ok(CancelTarget {
                order: OrderNumber::parse(e.order_id).field(&format!("lines[{i}].order_id"))?,
                line: e
                    .order_line_id
                    .map(OrderLineId::parse)
                    .transpose()
                    .field(&format!("lines[{i}].order_line_id"))?,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let why = parse_why(value.reason.as_deref(), value.reason_code.as_deref())?;
    let (app, actor, tenant) = (&state.app, caller.actor(), caller.tenant);
    idempotent(
        &state,
        &req,
        (tenant, key),
        &raw,
        Work::Cancel,
        |attempt| async move {
            let answer = match attempt {
                Attempt::First => {
                    let outcomes = app.cancel_batch(&actor, tenant, &targets, &why).await?;
                    BatchAnswer {
                        results: targets
                            .iter()
                            .zip(outcomes)
                            .map(|(t, outcome)| BatchEntry {
                                order_id: t.order,
                                order_line_id: t.line,
                                result: BatchResult::of(&outcome),
                                error: outcome.err().and_then(|e| {
                                    serde_json::to_value(ApiError::App(e).body()).ok()
                                }),
                            })
                            .collect(),
                    }
                }
                // The cancels were committed; put what was not confirmed in force.
                Attempt::Resume(previous) => {
                    let previous = serde_json::from_str(&previous).map_err(ApiError::internal)?;
                    app.resume_batch(tenant, previous).await?
                }
            };
            Ok::<Json<BatchAnswer>, ApiError>(Json(answer))
        },
    )
    .await
}
