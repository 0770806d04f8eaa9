//! Order lines and their state transitions. Every transition is a conditional
//! `UPDATE … WHERE status IN (sources)`, with the sources taken from the
//! domain's state machine (`LineStatus::sources_of`), so concurrent callers on
//! any instance and either backend agree on one outcome without row locks.

use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait as _, Condition, EntityTrait as _, QueryFilter as _, QueryOrder as _,
    QuerySelect as _, TransactionTrait as _,
    sea_query::{Expr, ExprTrait as _},
};
use serde_json::json;

use super::entities::{order_lines, orders, validation_tokens};
use super::events::{self, EventKind, NewEvent};
use super::webhooks::{self, NewWebhookEvent};
use super::{Op as _, Store, StoreError, is_unique_violation};
use crate::domain::{
    Actor, AssetId, CancelWhy, CountryCode, CustomerName, LineId, LineStatus, Metadata,
    OrderLineId, OrderNumber, OrderRef, Price, Quantity, Revocation, Sha256Digest, Tenant, now_ms,
};

/// One order line as the rest of the gateway reads it.
pub use super::entities::order_lines::Model as OrderLine;

/// Which of a tenant's lines `/purchase/list` shows.
#[derive(Clone, Debug, Default)]
pub struct LineFilter {
    pub statuses: Vec<LineStatus>,
    pub created_from_ms: Option<i64>,
    pub created_to_ms: Option<i64>,
}

/// A line claimed for fulfilment.
#[derive(Clone, Copy, Debug)]
pub struct Claimed {
    pub line: LineId,
    pub asset: AssetId,
    /// 1 for the first claim, and so on.
    pub attempt: i32,
}

/// A line's own stamped copy in the catalogue store.
#[derive(Clone, Debug)]
pub struct LineCopy {
    pub sha256: Sha256Digest,
    pub size_bytes: i64,
}

/// What a COMPLETED line gets: its stamped copy, if its asset is stamped,
/// and its access window (days from now), if its asset has one.
#[derive(Clone, Debug, Default)]
pub struct Completion {
    pub copy: Option<LineCopy>,
    pub access_days: Option<i32>,
}

/// Why fulfilment failed a line: a code for machines, a message for people.
#[derive(Clone, Debug)]
pub struct Failure {
    /// `stamping_failed`, `file_unavailable` or `asset_missing`.
    pub reason: &'static str,
    pub message: String,
}

/// What every line of one registration shares.
#[derive(Clone, Debug)]
pub struct LineTerms {
    pub customer: CustomerName,
    pub quantity: Quantity,
    pub country_code: Option<CountryCode>,
    pub metadata: Option<Metadata>,
}

/// One line to insert at register.
#[derive(Clone, Debug)]
pub struct NewLine {
    pub order_line_id: OrderLineId,
    pub asset_id: AssetId,
    pub unit_price: Price,
    pub line_item_price: Price,
}

/// Who registers what, and which validation token (if any) it spends.
#[derive(Clone, Debug)]
pub struct Registration {
    pub order: OrderRef,
    pub actor: Actor,
    pub validation_token_id: Option<String>,
    pub terms: LineTerms,
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

fn in_order(order: OrderRef) -> Condition {
    in_tenant(order.tenant).add(order_lines::Column::OrderNumber.eq(order.order))
}

fn in_tenant(tenant: Tenant) -> Condition {
    Condition::all()
        .add(order_lines::Column::VendorId.eq(tenant.vendor))
        .add(order_lines::Column::Environment.eq(tenant.environment))
}

/// `status IN (…)`: the statuses the state machine lets become `next`.
fn may_become(next: LineStatus) -> sea_orm::sea_query::SimpleExpr {
    order_lines::Column::Status.is_in(LineStatus::sources_of(next))
}

impl Store {
    /// Inserts every line of one registration atomically, spending the
    /// validation token in the same transaction (so a 409 does not burn it).
    #[tracing::instrument(skip_all, fields(vendor_id = %reg.order.tenant.vendor, order_id = %reg.order.order))]
    pub async fn register(&self, reg: Registration) -> Result<RegisterOutcome, StoreError> {
        let op = "registering order lines";
        let txn = self.conn().begin().await.op(op)?;
        let now = now_ms();
        if let Some(id) = &reg.validation_token_id {
            let spent = validation_tokens::Entity::update_many()
                .col_expr(validation_tokens::Column::UsedAtMs, Expr::value(now))
                .filter(validation_tokens::Column::Id.eq(id.as_str()))
                .filter(validation_tokens::Column::UsedAtMs.is_null())
                .filter(validation_tokens::Column::ExpiresAtMs.gt(now))
                .exec(&txn)
                .await
                .op("spending a validation token")?;
            if spent.rows_affected != 1 {
                txn.rollback().await.op(op)?;
                return Ok(RegisterOutcome::ValidationTokenGone);
            }
        }
        let mut ids = Vec::with_capacity(reg.lines.len());
        let mut history = Vec::with_capacity(reg.lines.len());
        for line in &reg.lines {
            let terms = reg.terms.clone();
            let model = order_lines::ActiveModel {
                line_id: NotSet,
                vendor_id: Set(reg.order.tenant.vendor),
                environment: Set(reg.order.tenant.environment),
                order_number: Set(reg.order.order),
                order_line_id: Set(line.order_line_id),
                asset_id: Set(line.asset_id),
                customer: Set(terms.customer),
                unit_price: Set(line.unit_price),
                line_item_price: Set(line.line_item_price),
                quantity: Set(terms.quantity),
                country_code: Set(terms.country_code),
                metadata: Set(terms.metadata),
                status: Set(LineStatus::Processing),
                failure_message: Set(None),
                created_at_ms: Set(now),
                updated_at_ms: Set(now),
                canceled_at_ms: Set(None),
                cancel_reason: Set(None),
                cancel_reason_code: Set(None),
                canceled_by: Set(None),
                revoke_until_ms: Set(None),
                revocation_pending: Set(false),
                links_until_ms: Set(None),
                claim_until_ms: Set(None),
                claimed_by: Set(None),
                fulfil_attempts: Set(0),
                copy_sha256: Set(None),
                copy_size_bytes: Set(None),
                copy_removed_at_ms: Set(None),
                failure_reason: Set(None),
                access_until_ms: Set(None),
            };
            match order_lines::Entity::insert(model).exec(&txn).await {
                Ok(res) => {
                    ids.push(res.last_insert_id);
                    history.push(NewEvent {
                        line_id: res.last_insert_id,
                        kind: EventKind::Registered,
                        at_ms: now,
                        actor: reg.actor.clone(),
                        data: json!({
                            "order_line_id": line.order_line_id,
                            "asset_id": line.asset_id,
                            "validated": reg.validation_token_id.is_some(),
                        }),
                    });
                }
                Err(e) if is_unique_violation(&e) => {
                    txn.rollback().await.op(op)?;
                    return Ok(RegisterOutcome::Duplicate);
                }
                Err(e) => return Err(e).op(op),
            }
        }
        // The order's search row: the first registration of an order makes it.
        orders::Entity::insert(orders::ActiveModel {
            id: NotSet,
            vendor_id: Set(reg.order.tenant.vendor),
            environment: Set(reg.order.tenant.environment),
            order_number: Set(reg.order.order),
            customer: Set(reg.terms.customer.clone()),
            created_at_ms: Set(now),
        })
        .on_conflict(
            sea_orm::sea_query::OnConflict::columns([
                orders::Column::VendorId,
                orders::Column::Environment,
                orders::Column::OrderNumber,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(&txn)
        .await
        .op(op)?;
        events::record(&txn, history).await?;
        txn.commit().await.op(op)?;
        Ok(RegisterOutcome::Registered(ids))
    }

    /// Every line of one order, by the vendor's line number.
    pub async fn order_lines(&self, order: OrderRef) -> Result<Vec<OrderLine>, StoreError> {
        order_lines::Entity::find()
            .filter(in_order(order))
            .order_by_asc(order_lines::Column::OrderLineId)
            .all(self.conn())
            .await
            .op("loading order lines")
    }

    /// A tenant's lines, newest first (keyset on creation time and id): those
    /// in `statuses` (all when empty), created in `[from, to)`.
    pub async fn list_lines(
        &self,
        tenant: Tenant,
        filter: &LineFilter,
        after: Option<(i64, LineId)>,
        limit: u64,
    ) -> Result<Vec<OrderLine>, StoreError> {
        use order_lines::Column as L;
        let mut cond = in_tenant(tenant);
        if !filter.statuses.is_empty() {
            cond = cond.add(L::Status.is_in(filter.statuses.clone()));
        }
        if let Some(from) = filter.created_from_ms {
            cond = cond.add(L::CreatedAtMs.gte(from));
        }
        if let Some(to) = filter.created_to_ms {
            cond = cond.add(L::CreatedAtMs.lt(to));
        }
        if let Some((created, line)) = after {
            cond = cond.add(
                Condition::any().add(L::CreatedAtMs.lt(created)).add(
                    Condition::all()
                        .add(L::CreatedAtMs.eq(created))
                        .add(L::LineId.lt(line)),
                ),
            );
        }
        order_lines::Entity::find()
            .filter(cond)
            .order_by_desc(L::CreatedAtMs)
            .order_by_desc(L::LineId)
            .limit(limit)
            .all(self.conn())
            .await
            .op("listing order lines")
    }

    /// Every line of these orders of one tenant, by order then line number.
    pub async fn lines_of_orders(
        &self,
        tenant: Tenant,
        orders: &[OrderNumber],
    ) -> Result<Vec<OrderLine>, StoreError> {
        order_lines::Entity::find()
            .filter(in_tenant(tenant).add(order_lines::Column::OrderNumber.is_in(orders.to_vec())))
            .order_by_asc(order_lines::Column::OrderNumber)
            .order_by_asc(order_lines::Column::OrderLineId)
            .all(self.conn())
            .await
            .op("loading the lines of several orders")
    }

    /// Records that a link valid until `until_ms` is about to be minted for a
    /// COMPLETED line (a lifetime longer than the configured TTL), so that a
    /// later cancel keeps its revocation at least that long. `false` when
    /// the line is no longer COMPLETED: then no such link may be minted.
    pub async fn extend_links_until(
        &self,
        line: LineId,
        until_ms: i64,
    ) -> Result<bool, StoreError> {
        let col = order_lines::Column::LinksUntilMs;
        let later = Expr::case(
            Expr::col(col).is_null().or(Expr::col(col).lt(until_ms)),
            Expr::value(until_ms),
        )
        .finally(Expr::col(col));
        let res = order_lines::Entity::update_many()
            .col_expr(col, later.into())
            .filter(order_lines::Column::LineId.eq(line))
            .filter(order_lines::Column::Status.eq(LineStatus::Completed))
            .exec(self.conn())
            .await
            .op("recording a long link's expiry")?;
        Ok(res.rows_affected == 1)
    }

    /// Cancels those of `lines` that may still become CANCELED, in one
    /// statement and transaction with their history and the webhook events
    /// `emit` makes of them. Returns the lines this call moved to CANCELED;
    /// each is left with `revocation_pending` set (the outbox flag) until the
    /// revocation store confirms it. Each line's revocation is kept until
    /// `now + window_ms`, or `window_ms` past the latest expiry of a longer
    /// link minted for it (`links_until_ms`), whichever is later — decided
    /// in the same statement, so a long link minted up to the cancel counts.
    #[tracing::instrument(skip_all, fields(lines = lines.len()))]
    pub async fn cancel_lines(
        &self,
        lines: &[LineId],
        why: &CancelWhy,
        actor: &Actor,
        window_ms: i64,
        emit: impl FnOnce(&[OrderLine]) -> Vec<NewWebhookEvent>,
    ) -> Result<Vec<LineId>, StoreError> {
        let op = "canceling order lines";
        if lines.is_empty() {
            return Ok(Vec::new());
        }
        let txn = self.conn().begin().await.op(op)?;
        let now = now_ms();
        let window_until = now + window_ms;
        // CASE WHEN links_until_ms + window > now + window THEN … ELSE now + window END
        let revoke_until = Expr::case(
            Expr::col(order_lines::Column::LinksUntilMs)
                .add(window_ms)
                .gt(window_until),
            Expr::col(order_lines::Column::LinksUntilMs).add(window_ms),
        )
        .finally(Expr::value(window_until));
        let changed: Vec<OrderLine> = order_lines::Entity::update_many()
            .col_expr(
                order_lines::Column::Status,
                Expr::value(LineStatus::Canceled),
            )
            .col_expr(order_lines::Column::CanceledAtMs, Expr::value(now))
            .col_expr(
                order_lines::Column::CancelReason,
                Expr::value(why.reason.clone()),
            )
            .col_expr(order_lines::Column::CancelReasonCode, Expr::value(why.code))
            .col_expr(order_lines::Column::CanceledBy, Expr::value(actor.clone()))
            .col_expr(order_lines::Column::RevokeUntilMs, revoke_until.into())
            .col_expr(order_lines::Column::RevocationPending, Expr::value(true))
            .col_expr(order_lines::Column::UpdatedAtMs, Expr::value(now))
            .filter(order_lines::Column::LineId.is_in(lines.to_vec()))
            .filter(may_become(LineStatus::Canceled))
            .exec_with_returning(&txn)
            .await
            .op(op)?;
        let canceled: Vec<LineId> = changed.iter().map(|m| m.line_id).collect();
        let sent = webhooks::enqueue(&txn, emit(&changed), None).await?;
        let history = canceled
            .iter()
            .map(|line| NewEvent {
                line_id: *line,
                kind: EventKind::Canceled,
                at_ms: now,
                actor: actor.clone(),
                data: json!({
                    "reason": why.reason,
                    "reason_code": why.code,
                    "webhook_event": sent.get(line),
                }),
            })
            .collect();
        events::record(&txn, history).await?;
        txn.commit().await.op(op)?;
        Ok(canceled)
    }

    /// Marks revocations as confirmed by the revocation store (the outbox is drained).
    pub async fn clear_revocation_pending(&self, lines: &[LineId]) -> Result<(), StoreError> {
        if lines.is_empty() {
            return Ok(());
        }
        order_lines::Entity::update_many()
            .col_expr(order_lines::Column::RevocationPending, Expr::value(false))
            .filter(order_lines::Column::LineId.is_in(lines.to_vec()))
            .exec(self.conn())
            .await
            .op("clearing the revocation outbox")
            .map(|_| ())
    }

    /// Canceled lines whose revocation the store has not yet confirmed.
    pub async fn pending_revocations(&self) -> Result<Vec<Revocation>, StoreError> {
        self.revocations(
            Condition::all().add(order_lines::Column::RevocationPending.eq(true)),
            "reading the revocation outbox",
        )
        .await
    }

    /// Every revocation that some unexpired link might still need.
    pub async fn active_revocations(&self, now_ms: i64) -> Result<Vec<Revocation>, StoreError> {
        self.revocations(
            Condition::all().add(order_lines::Column::RevokeUntilMs.gt(now_ms)),
            "reading active revocations",
        )
        .await
    }

    async fn revocations(
        &self,
        cond: Condition,
        op: &'static str,
    ) -> Result<Vec<Revocation>, StoreError> {
        let rows: Vec<(LineId, Option<i64>)> = order_lines::Entity::find()
            .select_only()
            .column(order_lines::Column::LineId)
            .column(order_lines::Column::RevokeUntilMs)
            .filter(order_lines::Column::Status.eq(LineStatus::Canceled))
            .filter(cond)
            .into_tuple()
            .all(self.conn())
            .await
            .op(op)?;
        Ok(rows
            .into_iter()
            .map(|(line, until)| Revocation {
                line,
                until_ms: until.unwrap_or(0),
            })
            .collect())
    }

    /// Claims up to `limit` PROCESSING lines for this instance for `lease_ms`.
    /// A claim whose lease ran out (crashed instance) can be claimed again.
    /// Returns each line, its asset, and how many times it was claimed so far.
    /// Gives up the fulfilment claims this instance holds (shutdown): another
    /// instance picks the lines up at once instead of after the lease.
    pub async fn release_fulfilment_claims(&self, instance: &str) -> Result<u64, StoreError> {
        order_lines::Entity::update_many()
            .col_expr(
                order_lines::Column::ClaimUntilMs,
                Expr::value(Option::<i64>::None),
            )
            .filter(order_lines::Column::ClaimedBy.eq(instance))
            .filter(order_lines::Column::Status.eq(LineStatus::Processing))
            .exec(self.conn())
            .await
            .op("releasing fulfilment claims")
            .map(|r| r.rows_affected)
    }

    pub async fn claim_processing(
        &self,
        instance: &str,
        lease_ms: i64,
        limit: u64,
    ) -> Result<Vec<Claimed>, StoreError> {
        let op = "claiming lines for fulfilment";
        let now = now_ms();
        let claimable = || {
            Condition::all()
                .add(order_lines::Column::Status.eq(LineStatus::Processing))
                .add(
                    Condition::any()
                        .add(order_lines::Column::ClaimUntilMs.is_null())
                        .add(order_lines::Column::ClaimUntilMs.lt(now)),
                )
        };
        let candidates: Vec<(LineId, AssetId, i32)> = order_lines::Entity::find()
            .select_only()
            .column(order_lines::Column::LineId)
            .column(order_lines::Column::AssetId)
            .column(order_lines::Column::FulfilAttempts)
            .filter(claimable())
            .order_by_asc(order_lines::Column::LineId)
            .limit(limit)
            .into_tuple()
            .all(self.conn())
            .await
            .op(op)?;
        let mut claimed = Vec::new();
        for (id, asset, attempts) in candidates {
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
                .filter(order_lines::Column::LineId.eq(id))
                .filter(claimable())
                .exec(self.conn())
                .await
                .op(op)?;
            if res.rows_affected == 1 {
                claimed.push(Claimed {
                    line: id,
                    asset,
                    attempt: attempts.saturating_add(1),
                });
            }
        }
        Ok(claimed)
    }

    /// Leaves a claimed line PROCESSING, to be claimed again from `at_ms` on
    /// (a transient failure, retried with backoff).
    pub async fn retry_fulfilment_at(&self, line: LineId, at_ms: i64) -> Result<(), StoreError> {
        order_lines::Entity::update_many()
            .col_expr(order_lines::Column::ClaimUntilMs, Expr::value(at_ms))
            .filter(order_lines::Column::LineId.eq(line))
            .filter(order_lines::Column::Status.eq(LineStatus::Processing))
            .exec(self.conn())
            .await
            .op("scheduling a fulfilment retry")
            .map(|_| ())
    }

    /// Stamped copies no link can reach any more, at most `limit`: of
    /// CANCELED lines whose revocation is confirmed and past `revoke_until`
    /// (every link minted before the cancel has expired by then), and of
    /// COMPLETED lines whose access window closed more than `link_life_ms`
    /// ago and whose longest reissued link has expired too.
    pub async fn copies_to_remove(
        &self,
        now: i64,
        link_life_ms: i64,
        limit: u64,
    ) -> Result<Vec<(LineId, Sha256Digest)>, StoreError> {
        use order_lines::Column as L;
        let canceled = Condition::all()
            .add(L::Status.eq(LineStatus::Canceled))
            .add(L::RevocationPending.eq(false))
            .add(L::RevokeUntilMs.lt(now));
        let window_closed = Condition::all()
            .add(L::Status.eq(LineStatus::Completed))
            .add(L::AccessUntilMs.lt(now - link_life_ms))
            .add(
                Condition::any()
                    .add(L::LinksUntilMs.is_null())
                    .add(L::LinksUntilMs.lt(now)),
            );
        order_lines::Entity::find()
            .select_only()
            .column(L::LineId)
            .column(L::CopySha256)
            .filter(Condition::any().add(canceled).add(window_closed))
            .filter(L::CopySha256.is_not_null())
            .filter(L::CopyRemovedAtMs.is_null())
            .limit(limit)
            .into_tuple()
            .all(self.conn())
            .await
            .op("finding stamped copies to remove")
    }

    /// Records that a line's copy is gone (`at`), or not after all (`None`).
    pub async fn set_copy_removed(&self, line: LineId, at: Option<i64>) -> Result<(), StoreError> {
        order_lines::Entity::update_many()
            .col_expr(order_lines::Column::CopyRemovedAtMs, Expr::value(at))
            .filter(order_lines::Column::LineId.eq(line))
            .exec(self.conn())
            .await
            .op("recording a removed copy")
            .map(drop)
    }

    /// One line, by its internal id.
    pub async fn line_by_id(&self, line: LineId) -> Result<Option<OrderLine>, StoreError> {
        order_lines::Entity::find_by_id(line)
            .one(self.conn())
            .await
            .op("loading a line")
    }

    /// PROCESSING → COMPLETED (with the line's stamped copy, if it has one)
    /// or FAILED, with its history and the webhook event `emit` makes of the
    /// line, in one transaction. Returns false when the line had left
    /// PROCESSING meanwhile (e.g. canceled): it is then left as it is.
    pub async fn finish_fulfilment(
        &self,
        line: LineId,
        outcome: Result<Completion, Failure>,
        emit: impl FnOnce(&OrderLine) -> NewWebhookEvent,
    ) -> Result<bool, StoreError> {
        let op = "finishing fulfilment";
        let now = now_ms();
        let (status, kind, message, reason, done) = match outcome {
            Ok(done) => (
                LineStatus::Completed,
                EventKind::Fulfilled,
                None,
                None,
                done,
            ),
            Err(f) => (
                LineStatus::Failed,
                EventKind::Failed,
                Some(f.message),
                Some(f.reason),
                Completion::default(),
            ),
        };
        let copy = done.copy;
        let txn = self.conn().begin().await.op(op)?;
        let changed = order_lines::Entity::update_many()
            .col_expr(order_lines::Column::Status, Expr::value(status))
            .col_expr(
                order_lines::Column::FailureMessage,
                Expr::value(message.clone()),
            )
            .col_expr(order_lines::Column::FailureReason, Expr::value(reason))
            .col_expr(
                order_lines::Column::CopySha256,
                Expr::value(copy.as_ref().map(|c| c.sha256.clone())),
            )
            .col_expr(
                order_lines::Column::CopySizeBytes,
                Expr::value(copy.as_ref().map(|c| c.size_bytes)),
            )
            .col_expr(
                order_lines::Column::AccessUntilMs,
                Expr::value(done.access_days.map(|d| now + i64::from(d) * 86_400_000)),
            )
            .col_expr(order_lines::Column::UpdatedAtMs, Expr::value(now))
            .col_expr(
                order_lines::Column::ClaimUntilMs,
                Expr::value(Option::<i64>::None),
            )
            .filter(order_lines::Column::LineId.eq(line))
            .filter(may_become(status))
            .exec_with_returning(&txn)
            .await
            .op(op)?;
        if let Some(model) = changed.first() {
            let sent = webhooks::enqueue(&txn, vec![emit(model)], None).await?;
            let mut data = match (&message, reason) {
                (Some(m), Some(r)) => json!({ "message": m, "reason": r }),
                _ => json!({}),
            };
            if let Some(c) = &copy {
                data["copy_sha256"] = json!(c.sha256);
            }
            data["webhook_event"] = json!(sent.get(&line));
            events::record(
                &txn,
                vec![NewEvent {
                    line_id: line,
                    kind,
                    at_ms: now,
                    actor: Actor::System,
                    data,
                }],
            )
            .await?;
        }
        txn.commit().await.op(op)?;
        Ok(!changed.is_empty())
    }
}
