//! `POST /purchase/cancel-batch` (extension): up to 500 lines or whole orders
//! canceled in one call, one transaction and one round of revocation writes.
//! When it answers, every entry reported `canceled` is in force on every
//! instance, exactly as for a single cancel.

use std::collections::BTreeSet;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::cancel::parse_why;
use crate::app::{AppError, CancelTarget};
use crate::domain::{OrderLineId, OrderNumber};
use crate::http::error::{ApiError, ErrorResponse};
use crate::http::extract::{ApiJson, Field as _, IdempotencyHeader, Vendor};
use crate::http::idempotency::{Attempt, Reply, idempotent};
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

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
struct EntryResult {
    order_id: i64,
    order_line_id: Option<i64>,
    result: String,
    error: Option<serde_json::Value>,
}

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
struct BatchAnswer {
    results: Vec<EntryResult>,
}

const UNAVAILABLE: &str = "revocation_unavailable";

fn result_of(outcome: &Result<(), AppError>) -> &'static str {
    match outcome {
        Ok(()) => "canceled",
        Err(AppError::OrderNotFound { .. }) => "not_found",
        Err(AppError::OrderNotCancelable { .. }) => "not_cancelable",
        Err(_) => UNAVAILABLE,
    }
}

fn error_of(outcome: Result<(), AppError>) -> Option<serde_json::Value> {
    let e: ErrorResponse = ApiError::App(outcome.err()?).body();
    serde_json::to_value(e).ok()
}

#[utoipa::path(
    post,
    path = "/purchase/cancel-batch",
    tag = "purchase",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry answer as the first request did")),
    request_body = BatchBody,
    responses(
        (status = 200, description = "One result per entry, in input order", body = BatchAnswer),
        (status = 408, description = "`request_timeout`: the body did not arrive in time", body = crate::http::error::ErrorResponse),
        (status = 409, description = "`idempotency_request_in_progress`", body = crate::http::error::ErrorResponse),
        (status = 413, description = "`payload_too_large`: the body exceeds `server.max_body_bytes`", body = crate::http::error::ErrorResponse),
        (status = 422, description = "`invalid_request`: `details.field` names the field; `idempotency_key_reused`", body = crate::http::error::ErrorResponse),
        crate::http::openapi::VendorAuthErrors,
        crate::http::openapi::DatabaseUnavailable
    ),
    security(("vendor_token" = []))
)]
#[tracing::instrument(skip_all)]
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
    // From the idempotency record to the answer, ahead of the access history.
    let _first = app.cancel_running();
    idempotent(&state, tenant, key, &req, &raw, |attempt| async move {
        let answer = match attempt {
            Attempt::First => {
                let outcomes = app.cancel_batch(&actor, tenant, &targets, &why).await?;
                BatchAnswer {
                    results: targets
                        .iter()
                        .zip(outcomes)
                        .map(|(t, outcome)| EntryResult {
                            order_id: t.order.get(),
                            order_line_id: t.line.map(OrderLineId::get),
                            result: result_of(&outcome).to_owned(),
                            error: error_of(outcome),
                        })
                        .collect(),
                }
            }
            // The cancels were committed; put what was not confirmed in force.
            Attempt::Resume(previous) => resume(app, tenant, &previous).await?,
        };
        let resumable = answer.results.iter().any(|r| r.result == UNAVAILABLE);
        Ok(Reply {
            status: StatusCode::OK,
            body: serde_json::to_value(&answer).map_err(ApiError::internal)?,
            resumable,
        })
    })
    .await
}

/// The first answer with its `revocation_unavailable` entries confirmed, if
/// the revocation store confirms them now.
async fn resume(
    app: &crate::app::App,
    tenant: crate::domain::Tenant,
    previous: &str,
) -> Result<BatchAnswer, ApiError> {
    let mut answer: BatchAnswer = serde_json::from_str(previous).map_err(ApiError::internal)?;
    let orders: BTreeSet<i64> = answer
        .results
        .iter()
        .filter(|r| r.result == UNAVAILABLE)
        .map(|r| r.order_id)
        .collect();
    let orders: Vec<OrderNumber> = orders
        .into_iter()
        .filter_map(|o| OrderNumber::parse(o).ok())
        .collect();
    if app.confirm_orders(tenant, &orders).await.is_ok() {
        for r in answer
            .results
            .iter_mut()
            .filter(|r| r.result == UNAVAILABLE)
        {
            r.result = "canceled".to_owned();
            r.error = None;
        }
    }
    Ok(answer)
}
