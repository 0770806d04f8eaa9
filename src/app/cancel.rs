//! Canceling: one line, a whole order, or a batch of both — one code path.
//!
//! 1. plan every entry against the orders as loaded (an entry sees the lines
//!    earlier entries of the same call take);
//! 2. one transaction moves every planned line that may still become CANCELED
//!    (conditional UPDATE), with `revoke_until`, the outbox flag and history;
//! 3. one round of revocation writes puts in force **every** canceled line of
//!    the affected orders whose window is open — not only this call's: a
//!    concurrent cancel of a sibling line must not let this answer vouch for a
//!    link that still works;
//! 4. an entry is `Ok` only once that round was confirmed.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::revoke::{PutInForceError, revocations_of};
use super::webhooks::line_event;
use super::{App, AppError, LineView};
use crate::domain::{
    Actor, CancelWhy, EventType, LineId, LineStatus, OrderLineId, OrderNumber, OrderRef, Tenant,
};
use crate::store::orders::OrderLine;

/// One entry of a cancel: a line, or (without `line`) every cancelable line of the order.
#[derive(Clone, Copy, Debug)]
pub struct CancelTarget {
    pub order: OrderNumber,
    pub line: Option<OrderLineId>,
}

/// How one entry ended: `Ok` = canceled and in force on every instance; else
/// `order_not_found`, `order_not_cancelable` or `revocation_unavailable`.
pub type EntryOutcome = Result<(), AppError>;

/// A batch cancel's answer, as the API sends it and as its `Idempotency-Key`
/// keeps it (a retry of a batch with unconfirmed entries resumes from it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BatchAnswer {
    /// One result per entry, in input order.
    pub results: Vec<BatchEntry>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BatchEntry {
    pub order_id: OrderNumber,
    /// `null`: the whole order.
    pub order_line_id: Option<OrderLineId>,
    pub result: BatchResult,
    /// The `ErrorResponse` of an entry that was not canceled.
    pub error: Option<serde_json::Value>,
}

/// What became of one entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BatchResult {
    /// Canceled and in force on every instance.
    Canceled,
    NotFound,
    NotCancelable,
    /// Committed, not yet confirmed in force: retry with the same key.
    RevocationUnavailable,
}

impl BatchResult {
    pub fn of(outcome: &EntryOutcome) -> Self {
        match outcome {
            Ok(()) => Self::Canceled,
            Err(AppError::OrderNotFound { .. }) => Self::NotFound,
            Err(AppError::OrderNotCancelable { .. }) => Self::NotCancelable,
            Err(_) => Self::RevocationUnavailable,
        }
    }
}

/// The entries' outcomes, in input order, and the affected orders' lines after the change.
struct Canceled {
    outcomes: Vec<EntryOutcome>,
    lines_after: Vec<OrderLine>,
}

fn not_cancelable(order: OrderNumber, line: &OrderLine, status: LineStatus) -> AppError {
    AppError::OrderNotCancelable {
        message: format!(
            "Order line {} of order {order} is {status} and cannot be canceled.",
            line.order_line_id
        ),
        current_status: status,
    }
}

impl App {
    /// Cancels one line, or every cancelable line of the order; answers the
    /// order's items once the revocation is in force for every instance.
    pub async fn cancel(
        &self,
        actor: &Actor,
        order: OrderRef,
        line: Option<OrderLineId>,
        why: &CancelWhy,
    ) -> Result<Vec<LineView>, AppError> {
        let lines = self.cancel_order(actor, order, line, why).await?;
        self.with_links(actor, lines, "cancel").await
    }

    /// [`cancel`](Self::cancel) answering the order's lines without minting links.
    pub(super) async fn cancel_order(
        &self,
        actor: &Actor,
        order: OrderRef,
        line: Option<OrderLineId>,
        why: &CancelWhy,
    ) -> Result<Vec<OrderLine>, AppError> {
        let target = CancelTarget {
            order: order.order,
            line,
        };
        let Canceled {
            outcomes,
            lines_after,
        } = self
            .cancel_entries(actor, order.tenant, &[target], why)
            .await?;
        outcomes
            .into_iter()
            .next()
            .unwrap_or(Err(AppError::RevocationUnavailable))?;
        Ok(lines_after)
    }

    /// Cancels a batch: outcomes in input order. One transaction and one round
    /// of revocation writes for the whole batch.
    pub async fn cancel_batch(
        &self,
        actor: &Actor,
        tenant: Tenant,
        targets: &[CancelTarget],
        why: &CancelWhy,
    ) -> Result<Vec<EntryOutcome>, AppError> {
        Ok(self
            .cancel_entries(actor, tenant, targets, why)
            .await?
            .outcomes)
    }

    /// Finishes a cancel whose lines were committed but whose revocation was
    /// not confirmed (it answered 503): puts the order's revocations in force
    /// and answers as the cancel would have.
    pub async fn resume_cancel(
        &self,
        actor: &Actor,
        order: OrderRef,
    ) -> Result<Vec<LineView>, AppError> {
        let lines = self.order(order).await?;
        self.confirm(&lines).await?;
        self.with_links(actor, lines, "cancel").await
    }

    /// Finishes a batch whose cancels were committed but not all confirmed
    /// (the answer stored for its key): puts every revocation of the orders
    /// of its `revocation_unavailable` entries in force and, if that is
    /// confirmed now, answers them as `canceled`; else as they were.
    pub async fn resume_batch(
        &self,
        tenant: Tenant,
        mut previous: BatchAnswer,
    ) -> Result<BatchAnswer, AppError> {
        let unconfirmed = |e: &&mut BatchEntry| e.result == BatchResult::RevocationUnavailable;
        let mut orders: Vec<OrderNumber> = previous
            .results
            .iter_mut()
            .filter(unconfirmed)
            .map(|e| e.order_id)
            .collect();
        orders.sort_unstable();
        orders.dedup();
        let lines = self.store.lines_of_orders(tenant, &orders).await?;
        if self.confirm(&lines).await.is_ok() {
            for entry in previous.results.iter_mut().filter(unconfirmed) {
                entry.result = BatchResult::Canceled;
                entry.error = None;
            }
        }
        Ok(previous)
    }

    async fn cancel_entries(
        &self,
        actor: &Actor,
        tenant: Tenant,
        targets: &[CancelTarget],
        why: &CancelWhy,
    ) -> Result<Canceled, AppError> {
        let mut orders: Vec<OrderNumber> = targets.iter().map(|t| t.order).collect();
        orders.sort_unstable();
        orders.dedup();
        let before = self.store.lines_of_orders(tenant, &orders).await?;
        let plans = plan(&before, targets);

        let wanted: Vec<LineId> = plans.iter().flatten().flatten().copied().collect();
        let window = self.policy.revocation_window_ms;
        let canceled: HashSet<LineId> = self
            .store
            .cancel_lines(&wanted, why, actor, window, |changed| {
                changed
                    .iter()
                    .map(|l| line_event(EventType::Canceled, l))
                    .collect()
            })
            .await?
            .into_iter()
            .collect();
        if !canceled.is_empty() {
            tracing::info!(lines = canceled.len(), "order lines canceled");
            self.deliveries.wake();
        }
        let lines_after = if wanted.is_empty() {
            before
        } else {
            self.store.lines_of_orders(tenant, &orders).await?
        };
        let in_force = canceled.is_empty()
            || match self.confirm(&lines_after).await {
                Ok(()) => true,
                Err(AppError::RevocationUnavailable) => false,
                Err(e) => return Err(e),
            };

        let status_after: HashMap<LineId, &OrderLine> =
            lines_after.iter().map(|l| (l.line_id, l)).collect();
        let outcomes = plans
            .into_iter()
            .zip(targets)
            .map(|(plan, target)| {
                let ids = plan?;
                if ids.iter().any(|id| canceled.contains(id)) {
                    return if in_force {
                        Ok(())
                    } else {
                        Err(AppError::RevocationUnavailable)
                    };
                }
                // A concurrent cancel won every line: report what it left behind.
                let line = ids
                    .first()
                    .and_then(|id| status_after.get(id))
                    .ok_or_else(|| {
                        AppError::internal(anyhow::anyhow!("a canceled line vanished"))
                    })?;
                Err(not_cancelable(target.order, line, line.status))
            })
            .collect();
        Ok(Canceled {
            outcomes,
            lines_after,
        })
    }

    /// Puts in force every revocation these lines need. On failure the lines
    /// stay in the outbox, the maintainer is woken to push them, and the
    /// answer is `revocation_unavailable`.
    async fn confirm(&self, lines: &[OrderLine]) -> Result<(), AppError> {
        match self.put_in_force(&revocations_of(lines)).await {
            Ok(()) => Ok(()),
            Err(PutInForceError::Revocation(e)) => {
                tracing::warn!(error = %e, "cancel committed but the revocation store is unavailable; the maintainer will push it");
                self.maintainer.wake();
                Err(AppError::RevocationUnavailable)
            }
            Err(PutInForceError::Store(e)) => Err(e.into()),
        }
    }
}

/// Which lines each entry cancels, against the orders as loaded; an entry
/// sees lines taken by earlier entries as CANCELED.
fn plan(lines: &[OrderLine], targets: &[CancelTarget]) -> Vec<Result<Vec<LineId>, AppError>> {
    let mut taken: HashSet<LineId> = HashSet::new();
    let status = |l: &OrderLine, taken: &HashSet<LineId>| {
        if taken.contains(&l.line_id) {
            LineStatus::Canceled
        } else {
            l.status
        }
    };
    targets
        .iter()
        .map(|t| {
            let of_order: Vec<&OrderLine> =
                lines.iter().filter(|l| l.order_number == t.order).collect();
            let first = of_order.first().ok_or(AppError::OrderNotFound {
                order: t.order,
                line: None,
            })?;
            let ids: Vec<LineId> = match t.line {
                Some(no) => {
                    let line = of_order.iter().find(|l| l.order_line_id == no).ok_or(
                        AppError::OrderNotFound {
                            order: t.order,
                            line: Some(no),
                        },
                    )?;
                    let current = status(line, &taken);
                    if !current.is_cancelable() {
                        return Err(not_cancelable(t.order, line, current));
                    }
                    vec![line.line_id]
                }
                None => {
                    let ids: Vec<LineId> = of_order
                        .iter()
                        .filter(|l| status(l, &taken).is_cancelable())
                        .map(|l| l.line_id)
                        .collect();
                    if ids.is_empty() {
                        return Err(AppError::OrderNotCancelable {
                            message: format!("No line of order {} can be canceled.", t.order),
                            current_status: status(first, &taken),
                        });
                    }
                    ids
                }
            };
            taken.extend(ids.iter().copied());
            Ok(ids)
        })
        .collect()
}
