use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::info::load_order;
use crate::domain::OrderNumber;
use crate::domain::{CancelReason, LineStatus, OrderLineId, now_ms};
use crate::http::error::ApiError;
use crate::http::extract::{ApiQuery, Caller, IdempotencyHeader, OptionalJson};
use crate::http::idempotency::{Answer, Attempt, idempotent};
use crate::http::order_item::order_items;
use crate::revocation::Revocation;
use crate::state::AppState;
use crate::store::orders::OrderLine;

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
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    IdempotencyHeader(key): IdempotencyHeader,
    ApiQuery(q): ApiQuery<CancelQuery>,
    OptionalJson(body): OptionalJson<CancelBody>,
) -> Result<HttpResponse, ApiError> {
    let reason_raw = q.reason.clone().or_else(|| body.and_then(|b| b.reason));
    let fingerprint_body = reason_raw.clone().unwrap_or_default();
    let (st, who) = (state.get_ref(), &caller);
    idempotent(
        &state,
        &caller,
        key,
        &req,
        fingerprint_body.as_bytes(),
        |attempt| async move {
            match attempt {
                Attempt::First => run(st, who, q, reason_raw).await,
                // The first attempt canceled the lines; put their revocation in force.
                Attempt::Resume => {
                    let (order, _) = load_order(st, who, q.order_id).await?;
                    confirm(st, who, order).await
                }
            }
        },
    )
    .await
}

fn not_cancelable(order_id: i64, line: &OrderLine) -> ApiError {
    ApiError::OrderNotCancelable {
        message: format!(
            "Order line {} of order {order_id} is {} and cannot be canceled.",
            line.order_line_id, line.status
        ),
        current_status: line.status.to_string(),
    }
}

async fn run(
    state: &AppState,
    caller: &Caller,
    q: CancelQuery,
    reason: Option<String>,
) -> Result<Answer, ApiError> {
    let reason =
        CancelReason::parse(reason.as_deref()).map_err(|e| ApiError::invalid("reason", e))?;
    let line_no = q
        .order_line_id
        .map(OrderLineId::parse)
        .transpose()
        .map_err(|e| ApiError::invalid("order_line_id", e))?;
    let (order, lines) = load_order(state, caller, q.order_id).await?;

    let targets: Vec<&OrderLine> =
        match line_no {
            Some(no) => {
                let line = lines.iter().find(|l| l.order_line_id == no).ok_or(
                    ApiError::OrderNotFound {
                        order_id: q.order_id,
                        order_line_id: q.order_line_id,
                    },
                )?;
                if !line.status.is_cancelable() {
                    return Err(not_cancelable(q.order_id, line));
                }
                vec![line]
            }
            None => {
                let cancelable: Vec<&OrderLine> =
                    lines.iter().filter(|l| l.status.is_cancelable()).collect();
                if cancelable.is_empty() {
                    return Err(ApiError::OrderNotCancelable {
                        message: format!("No line of order {} can be canceled.", q.order_id),
                        current_status: lines[0].status.to_string(),
                    });
                }
                cancelable
            }
        };
    let ids: Vec<_> = targets.iter().map(|l| l.line_id).collect();
    let until = now_ms() + state.revocation_window_ms();
    let canceled = state
        .store
        .cancel_lines(&ids, &reason, caller.token, until)
        .await?;
    if canceled.is_empty() {
        // A concurrent cancel won every line: report what it left behind.
        let after = state
            .store
            .order_lines(caller.vendor, caller.environment, order)
            .await?;
        let line = after
            .iter()
            .find(|l| ids.contains(&l.line_id))
            .unwrap_or(&after[0]);
        return Err(not_cancelable(q.order_id, line));
    }
    tracing::info!(lines = canceled.len(), "order lines canceled");
    confirm(state, caller, order).await
}

/// Puts the revocations of the order's canceled lines in force, then answers
/// 201 with the order. Every canceled line with an open window is pushed, not
/// only this call's: a concurrent cancel of a sibling line must not leave our
/// 201 vouching for a link that still works.
async fn confirm(
    state: &AppState,
    caller: &Caller,
    order: OrderNumber,
) -> Result<Answer, ApiError> {
    let after = state
        .store
        .order_lines(caller.vendor, caller.environment, order)
        .await?;
    let now = now_ms();
    let revocations: Vec<Revocation> = after
        .iter()
        .filter(|l| l.status == LineStatus::Canceled)
        .filter_map(|l| {
            l.revoke_until_ms.map(|until_ms| Revocation {
                line: l.line_id,
                until_ms,
            })
        })
        .filter(|r| r.until_ms > now)
        .collect();
    if let Err(e) = state.revocations.revoke(&revocations).await {
        tracing::warn!(error = %e, "cancel committed but the revocation store is unavailable; the maintainer will push it");
        state.maintainer.wake();
        return Err(ApiError::RevocationUnavailable);
    }
    let pushed: Vec<_> = revocations.iter().map(|r| r.line).collect();
    state.store.clear_revocation_pending(&pushed).await?;
    Ok(Answer {
        status: StatusCode::CREATED,
        body: serde_json::to_value(order_items(state, &after, "cancel").await?)
            .map_err(ApiError::internal)?,
    })
}
