//! Order lines and their state transitions. Every transition is a conditional
//! `UPDATE … WHERE status IN (…)`, so concurrent callers on any instance and
//! either backend agree on one outcome without explicit row locks.

use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait as _, Condition, DbErr, EntityTrait as _, QueryFilter as _, QueryOrder as _,
    QuerySelect as _, TransactionTrait as _,
    sea_query::{Expr, ExprTrait as _},
};
use serde_json::json;

use super::entities::{order_lines, validation_tokens};
use super::events::{self, EventKind, NewEvent};
use super::{Store, is_unique_violation};
use crate::domain::{
    AssetId, CancelReason, Environment, LineId, LineStatus, OrderLineId, OrderNumber, TokenId,
    VendorId, now_ms,
};

/// One stored order line.
#[derive(Clone, Debug)]
pub struct OrderLine {
    pub line_id: LineId,
    pub order_number: OrderNumber,
    pub order_line_id: OrderLineId,
    pub asset_id: AssetId,
    pub customer: String,
    pub unit_price: f64,
    pub line_item_price: f64,
    pub quantity: i32,
    pub country_code: Option<String>,
    pub metadata: Option<serde_json::Value>,
    pub status: LineStatus,
    pub failure_message: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub canceled_at_ms: Option<i64>,
    pub cancel_reason: Option<String>,
    pub revoke_until_ms: Option<i64>,
}

impl TryFrom<order_lines::Model> for OrderLine {
    type Error = DbErr;
    fn try_from(m: order_lines::Model) -> Result<Self, DbErr> {
        Ok(Self {
            line_id: LineId::from_db(m.id),
            order_number: OrderNumber::from_db(m.order_number),
            order_line_id: OrderLineId::from_db(m.order_line_id),
            asset_id: AssetId::from_db(m.asset_id),
            customer: m.customer,
            unit_price: m.unit_price,
            line_item_price: m.line_item_price,
            quantity: m.quantity,
            country_code: m.country_code,
            metadata: m.metadata.and_then(|s| serde_json::from_str(&s).ok()),
            status: m
                .status
                .parse()
                .map_err(|e: crate::domain::ValueError| DbErr::Custom(e.to_string()))?,
            failure_message: m.failure_message,
            created_at_ms: m.created_at_ms,
            updated_at_ms: m.updated_at_ms,
            canceled_at_ms: m.canceled_at_ms,
            cancel_reason: m.cancel_reason,
            revoke_until_ms: m.revoke_until_ms,
        })
    }
}

/// A line to insert at register.
#[derive(Clone, Debug)]
pub struct NewLine {
    pub order_line_id: OrderLineId,
    pub asset_id: AssetId,
    pub customer: String,
    pub unit_price: f64,
    pub line_item_price: f64,
    pub quantity: i32,
    pub country_code: Option<String>,
    pub metadata: Option<String>,
}

/// Who registers what, and which validation token (if any) it spends.
#[derive(Clone, Debug)]
pub struct Registration {
    pub vendor: VendorId,
    pub environment: Environment,
    pub token: TokenId,
    pub order_number: OrderNumber,
    pub validation_token_id: Option<String>,
    pub lines: Vec<NewLine>,
}

#[derive(Debug)]
pub enum RegisterOutcome {
    Registered(Vec<LineId>),
    /// A line with the same (vendor, environment, order, line) exists.
    Duplicate,
    /// The validation token was spent (or expired) between check and use.
    ValidationTokenGone,
}

/// A revocation to put in force: line and the time after which no link can need it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Revocation {
    pub line: LineId,
    pub until_ms: i64,
}

const STATUS_PROCESSING: &str = "PROCESSING";

fn cancelable_names() -> [&'static str; 2] {
    LineStatus::CANCELABLE.map(LineStatus::as_str)
}

impl Store {
    /// Inserts every line of one registration atomically, spending the
    /// validation token in the same transaction (so a 409 does not burn it).
    #[tracing::instrument(skip_all, fields(vendor_id = %reg.vendor, order_id = %reg.order_number))]
    pub async fn register(&self, reg: Registration) -> Result<RegisterOutcome, DbErr> {
        let txn = self.conn().begin().await?;
        let now = now_ms();
        if let Some(id) = &reg.validation_token_id {
            let spent = validation_tokens::Entity::update_many()
                .col_expr(validation_tokens::Column::UsedAtMs, Expr::value(now))
                .filter(validation_tokens::Column::Id.eq(id.as_str()))
                .filter(validation_tokens::Column::UsedAtMs.is_null())
                .filter(validation_tokens::Column::ExpiresAtMs.gt(now))
                .exec(&txn)
                .await?;
            if spent.rows_affected != 1 {
                txn.rollback().await?;
                return Ok(RegisterOutcome::ValidationTokenGone);
            }
        }
        let mut ids = Vec::with_capacity(reg.lines.len());
        let mut history = Vec::with_capacity(reg.lines.len());
        for line in &reg.lines {
            let model = order_lines::ActiveModel {
                id: NotSet,
                vendor_id: Set(reg.vendor.to_string()),
                environment: Set(reg.environment.as_str().to_owned()),
                order_number: Set(reg.order_number.get()),
                order_line_id: Set(line.order_line_id.get()),
                asset_id: Set(line.asset_id.get()),
                customer: Set(line.customer.clone()),
                unit_price: Set(line.unit_price),
                line_item_price: Set(line.line_item_price),
                quantity: Set(line.quantity),
                country_code: Set(line.country_code.clone()),
                metadata: Set(line.metadata.clone()),
                status: Set(STATUS_PROCESSING.to_owned()),
                failure_message: Set(None),
                created_at_ms: Set(now),
                updated_at_ms: Set(now),
                canceled_at_ms: Set(None),
                cancel_reason: Set(None),
                canceled_by_token: Set(None),
                revoke_until_ms: Set(None),
                revocation_pending: Set(false),
                claim_until_ms: Set(None),
                claimed_by: Set(None),
                fulfil_attempts: Set(0),
            };
            match order_lines::Entity::insert(model).exec(&txn).await {
                Ok(res) => {
                    let id = LineId::from_db(res.last_insert_id);
                    ids.push(id);
                    history.push(NewEvent {
                        line_id: id,
                        kind: EventKind::Registered,
                        at_ms: now,
                        data: json!({
                            "order_line_id": line.order_line_id,
                            "asset_id": line.asset_id,
                            "token_id": reg.token,
                            "validated": reg.validation_token_id.is_some(),
                        }),
                    });
                }
                Err(e) if is_unique_violation(&e) => {
                    txn.rollback().await?;
                    return Ok(RegisterOutcome::Duplicate);
                }
                Err(e) => return Err(e),
            }
        }
        events::record(&txn, history).await?;
        txn.commit().await?;
        Ok(RegisterOutcome::Registered(ids))
    }

    /// Every line of one order, by the vendor's line number.
    pub async fn order_lines(
        &self,
        vendor: VendorId,
        environment: Environment,
        order: OrderNumber,
    ) -> Result<Vec<OrderLine>, DbErr> {
        order_lines::Entity::find()
            .filter(order_lines::Column::VendorId.eq(vendor.to_string()))
            .filter(order_lines::Column::Environment.eq(environment.as_str()))
            .filter(order_lines::Column::OrderNumber.eq(order.get()))
            .order_by_asc(order_lines::Column::OrderLineId)
            .all(self.conn())
            .await?
            .into_iter()
            .map(OrderLine::try_from)
            .collect()
    }

    /// Cancels those of `lines` that are still cancelable, in one transaction.
    /// Returns the lines this call moved to CANCELED; each is left with
    /// `revocation_pending` set until the revocation store confirms it.
    #[tracing::instrument(skip_all, fields(lines = lines.len()))]
    pub async fn cancel_lines(
        &self,
        lines: &[LineId],
        reason: &CancelReason,
        by: TokenId,
        revoke_until_ms: i64,
    ) -> Result<Vec<LineId>, DbErr> {
        let txn = self.conn().begin().await?;
        let now = now_ms();
        let mut canceled = Vec::new();
        for line in lines {
            let res = order_lines::Entity::update_many()
                .col_expr(
                    order_lines::Column::Status,
                    Expr::value(LineStatus::Canceled.as_str()),
                )
                .col_expr(order_lines::Column::CanceledAtMs, Expr::value(now))
                .col_expr(
                    order_lines::Column::CancelReason,
                    Expr::value(reason.as_str()),
                )
                .col_expr(
                    order_lines::Column::CanceledByToken,
                    Expr::value(by.to_string()),
                )
                .col_expr(
                    order_lines::Column::RevokeUntilMs,
                    Expr::value(revoke_until_ms),
                )
                .col_expr(order_lines::Column::RevocationPending, Expr::value(true))
                .col_expr(order_lines::Column::UpdatedAtMs, Expr::value(now))
                .filter(order_lines::Column::Id.eq(line.get()))
                .filter(order_lines::Column::Status.is_in(cancelable_names()))
                .exec(&txn)
                .await?;
            if res.rows_affected == 1 {
                canceled.push(*line);
            }
        }
        let history = canceled
            .iter()
            .map(|line| NewEvent {
                line_id: *line,
                kind: EventKind::Canceled,
                at_ms: now,
                data: json!({"reason": reason.as_str(), "token_id": by}),
            })
            .collect();
        events::record(&txn, history).await?;
        txn.commit().await?;
        Ok(canceled)
    }

    /// Marks revocations as confirmed by the revocation store (the outbox is drained).
    pub async fn clear_revocation_pending(&self, lines: &[LineId]) -> Result<(), DbErr> {
        if lines.is_empty() {
            return Ok(());
        }
        order_lines::Entity::update_many()
            .col_expr(order_lines::Column::RevocationPending, Expr::value(false))
            .filter(order_lines::Column::Id.is_in(lines.iter().map(|l| l.get())))
            .exec(self.conn())
            .await
            .map(|_| ())
    }

    /// Canceled lines whose revocation the store has not yet confirmed.
    pub async fn pending_revocations(&self) -> Result<Vec<Revocation>, DbErr> {
        self.revocations(Condition::all().add(order_lines::Column::RevocationPending.eq(true)))
            .await
    }

    /// Every revocation that some unexpired link might still need.
    pub async fn active_revocations(&self, now_ms: i64) -> Result<Vec<Revocation>, DbErr> {
        self.revocations(Condition::all().add(order_lines::Column::RevokeUntilMs.gt(now_ms)))
            .await
    }

    async fn revocations(&self, cond: Condition) -> Result<Vec<Revocation>, DbErr> {
        let rows: Vec<(i64, Option<i64>)> = order_lines::Entity::find()
            .select_only()
            .column(order_lines::Column::Id)
            .column(order_lines::Column::RevokeUntilMs)
            .filter(order_lines::Column::Status.eq(LineStatus::Canceled.as_str()))
            .filter(cond)
            .into_tuple()
            .all(self.conn())
            .await?;
        Ok(rows
            .into_iter()
            .map(|(id, until)| Revocation {
                line: LineId::from_db(id),
                until_ms: until.unwrap_or(0),
            })
            .collect())
    }

    /// Claims up to `limit` PROCESSING lines for this instance for `lease_ms`.
    /// A claim whose lease ran out (crashed instance) can be claimed again.
    pub async fn claim_processing(
        &self,
        instance: &str,
        lease_ms: i64,
        limit: u64,
    ) -> Result<Vec<(LineId, AssetId)>, DbErr> {
        let now = now_ms();
        let claimable = || {
            Condition::all()
                .add(order_lines::Column::Status.eq(STATUS_PROCESSING))
                .add(
                    Condition::any()
                        .add(order_lines::Column::ClaimUntilMs.is_null())
                        .add(order_lines::Column::ClaimUntilMs.lt(now)),
                )
        };
        let candidates: Vec<(i64, i64)> = order_lines::Entity::find()
            .select_only()
            .column(order_lines::Column::Id)
            .column(order_lines::Column::AssetId)
            .filter(claimable())
            .order_by_asc(order_lines::Column::Id)
            .limit(limit)
            .into_tuple()
            .all(self.conn())
            .await?;
        let mut claimed = Vec::new();
        for (id, asset) in candidates {
            let res = order_lines::Entity::update_many()
                .col_expr(
                    order_lines::Column::ClaimUntilMs,
                    Expr::value(now + lease_ms),
                )
                .col_expr(order_lines::Column::ClaimedBy, Expr::value(instance))
                .col_expr(
                    order_lines::Column::FulfilAttempts,
                    Expr::col(order_lines::Column::FulfilAttempts).add(1),
                )
                .filter(order_lines::Column::Id.eq(id))
                .filter(claimable())
                .exec(self.conn())
                .await?;
            if res.rows_affected == 1 {
                claimed.push((LineId::from_db(id), AssetId::from_db(asset)));
            }
        }
        Ok(claimed)
    }

    /// PROCESSING → COMPLETED or FAILED. Returns false when the line had left
    /// PROCESSING meanwhile (e.g. canceled): it is then left as it is.
    pub async fn finish_fulfilment(
        &self,
        line: LineId,
        outcome: Result<(), String>,
    ) -> Result<bool, DbErr> {
        let now = now_ms();
        let (status, kind, message) = match &outcome {
            Ok(()) => (LineStatus::Completed, EventKind::Fulfilled, None),
            Err(m) => (LineStatus::Failed, EventKind::Failed, Some(m.clone())),
        };
        let txn = self.conn().begin().await?;
        let res = order_lines::Entity::update_many()
            .col_expr(order_lines::Column::Status, Expr::value(status.as_str()))
            .col_expr(
                order_lines::Column::FailureMessage,
                Expr::value(message.clone()),
            )
            .col_expr(order_lines::Column::UpdatedAtMs, Expr::value(now))
            .col_expr(
                order_lines::Column::ClaimUntilMs,
                Expr::value(Option::<i64>::None),
            )
            .filter(order_lines::Column::Id.eq(line.get()))
            .filter(order_lines::Column::Status.eq(STATUS_PROCESSING))
            .exec(&txn)
            .await?;
        let changed = res.rows_affected == 1;
        if changed {
            let data = message.map_or_else(|| json!({}), |m| json!({ "message": m }));
            events::record(
                &txn,
                vec![NewEvent {
                    line_id: line,
                    kind,
                    at_ms: now,
                    data,
                }],
            )
            .await?;
        }
        txn.commit().await?;
        Ok(changed)
    }
}
