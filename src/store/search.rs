//! What operators search and count: orders across vendors (through the
//! one-row-per-order `orders` table and its indexes), summaries of a page of
//! them, the overview's totals, hourly access counts, and the retention purge.

use std::collections::HashMap;

use sea_orm::sea_query::{Alias, Expr, ExprTrait as _, LikeExpr, OnConflict, Query};
use sea_orm::{
    ColumnTrait as _, Condition, DbBackend, EntityTrait as _, QueryFilter as _, QueryOrder as _,
    QuerySelect as _,
};

use super::entities::{access_counts, line_events, order_lines, orders, vendors};
use super::{Op as _, Store, StoreError};
use crate::domain::{CancelReasonCode, Environment, LineStatus, OrderNumber, VendorId};

pub use super::entities::orders::Model as OrderRow;

/// What an operator searches by; every field narrows the result.
#[derive(Clone, Debug, Default)]
pub struct OrderFilter {
    pub vendor: Option<VendorId>,
    pub environment: Option<Environment>,
    /// Orders with at least one line in this status.
    pub status: Option<LineStatus>,
    /// Orders with at least one line canceled for this reason.
    pub reason_code: Option<CancelReasonCode>,
    pub order_number: Option<OrderNumber>,
    /// A case-insensitive substring of the customer's name.
    pub customer: Option<String>,
    pub created_from_ms: Option<i64>,
    pub created_to_ms: Option<i64>,
}

/// Where a page of orders (newest first) continues: after this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderCursor {
    pub created_at_ms: i64,
    pub id: i64,
}

/// The lines of one order, summed up.
#[derive(Clone, Debug, Default)]
pub struct OrderTotals {
    pub lines: i64,
    pub statuses: Vec<(LineStatus, i64)>,
    pub updated_at_ms: i64,
}

type OrderKey = (VendorId, Environment, OrderNumber);

/// `%text%` for LIKE, with the pattern characters of `text` escaped by a
/// backslash (PostgreSQL's default escape; SQLite is told with `ESCAPE`).
pub(super) fn contains(text: &str) -> String {
    let escaped: String = text
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    format!("%{escaped}%")
}

/// `EXISTS` a line of the order whose `column` is `value`.
fn has_line(
    column: order_lines::Column,
    value: impl Into<sea_orm::Value>,
) -> sea_orm::sea_query::SimpleExpr {
    use orders::Column as O;
    let line = Alias::new("l");
    let mut sub = Query::select();
    sub.expr(Expr::val(1))
        .from_as(order_lines::Entity, line.clone())
        .and_where(
            Expr::col((line.clone(), order_lines::Column::VendorId))
                .equals((orders::Entity, O::VendorId)),
        )
        .and_where(
            Expr::col((line.clone(), order_lines::Column::Environment))
                .equals((orders::Entity, O::Environment)),
        )
        .and_where(
            Expr::col((line.clone(), order_lines::Column::OrderNumber))
                .equals((orders::Entity, O::OrderNumber)),
        )
        .and_where(Expr::col((line, column)).eq(value));
    Expr::exists(sub)
}

impl Store {
    /// The order of the line whose refused download had request id
    /// `reference` (the buyer's error page shows it), if any.
    pub async fn order_of_reference(
        &self,
        reference: &str,
    ) -> Result<Option<(VendorId, Environment, OrderNumber)>, StoreError> {
        let op = "finding a reference";
        let line: Option<crate::domain::LineId> = line_events::Entity::find()
            .select_only()
            .column(line_events::Column::LineId)
            .filter(line_events::Column::RequestId.eq(reference))
            .into_tuple()
            .one(self.conn())
            .await
            .op(op)?;
        let Some(line) = line else {
            return Ok(None);
        };
        Ok(order_lines::Entity::find_by_id(line)
            .one(self.conn())
            .await
            .op(op)?
            .map(|l| (l.vendor_id, l.environment, l.order_number)))
    }

    /// Orders matching `filter`, newest first, after `cursor`, at most `limit`.
    pub async fn search_orders(
        &self,
        filter: &OrderFilter,
        cursor: Option<OrderCursor>,
        limit: u64,
    ) -> Result<Vec<OrderRow>, StoreError> {
        use orders::Column as O;
        let mut cond = Condition::all();
        if let Some(v) = filter.vendor {
            cond = cond.add(O::VendorId.eq(v));
        }
        if let Some(e) = filter.environment {
            cond = cond.add(O::Environment.eq(e));
        }
        if let Some(n) = filter.order_number {
            cond = cond.add(O::OrderNumber.eq(n));
        }
        if let Some(text) = filter.customer.as_deref() {
            let customer = Expr::col((orders::Entity, O::Customer));
            cond = cond.add(match self.conn().get_database_backend() {
                // Served by the trigram index where pg_trgm is available.
                DbBackend::Postgres => {
                    use sea_orm::sea_query::extension::postgres::PgExpr as _;
                    customer.ilike(LikeExpr::new(contains(text)))
                }
                // SQLite's LIKE ignores case (for ASCII letters).
                _ => customer.like(LikeExpr::new(contains(text)).escape('\\')),
            });
        }
        if let Some(from) = filter.created_from_ms {
            cond = cond.add(O::CreatedAtMs.gte(from));
        }
        if let Some(to) = filter.created_to_ms {
            cond = cond.add(O::CreatedAtMs.lt(to));
        }
        if let Some(status) = filter.status {
            cond = cond.add(has_line(order_lines::Column::Status, status));
        }
        if let Some(code) = filter.reason_code {
            cond = cond.add(has_line(order_lines::Column::CancelReasonCode, code));
        }
        if let Some(c) = cursor {
            cond = cond.add(
                Condition::any()
                    .add(O::CreatedAtMs.lt(c.created_at_ms))
                    .add(
                        Condition::all()
                            .add(O::CreatedAtMs.eq(c.created_at_ms))
                            .add(O::Id.lt(c.id)),
                    ),
            );
        }
        orders::Entity::find()
            .filter(cond)
            .order_by_desc(O::CreatedAtMs)
            .order_by_desc(O::Id)
            .limit(limit)
            .all(self.conn())
            .await
            .op("searching orders")
    }

    /// Line counts, per-status counts and the latest change of these orders.
    pub async fn order_totals(
        &self,
        orders: &[OrderKey],
    ) -> Result<HashMap<OrderKey, OrderTotals>, StoreError> {
        use order_lines::Column as L;
        if orders.is_empty() {
            return Ok(HashMap::new());
        }
        let mut any = Condition::any();
        for (vendor, environment, number) in orders {
            any = any.add(
                Condition::all()
                    .add(L::VendorId.eq(*vendor))
                    .add(L::Environment.eq(*environment))
                    .add(L::OrderNumber.eq(*number)),
            );
        }
        let rows: Vec<(VendorId, Environment, OrderNumber, LineStatus, i64, i64)> =
            order_lines::Entity::find()
                .select_only()
                .column(L::VendorId)
                .column(L::Environment)
                .column(L::OrderNumber)
                .column(L::Status)
                .column_as(Expr::cust("COUNT(*)"), "n")
                .column_as(Expr::col(L::UpdatedAtMs).max(), "updated")
                .filter(any)
                .group_by(L::VendorId)
                .group_by(L::Environment)
                .group_by(L::OrderNumber)
                .group_by(L::Status)
                .into_tuple()
                .all(self.conn())
                .await
                .op("summing up orders")?;
        let mut totals: HashMap<OrderKey, OrderTotals> = HashMap::new();
        for (vendor, environment, number, status, n, updated) in rows {
            let t = totals.entry((vendor, environment, number)).or_default();
            t.lines += n;
            t.statuses.push((status, n));
            t.updated_at_ms = Ord::max(t.updated_at_ms, updated);
        }
        Ok(totals)
    }

    /// Names of these vendors.
    pub async fn vendor_names(
        &self,
        ids: &[VendorId],
    ) -> Result<HashMap<VendorId, String>, StoreError> {
        Ok(vendors::Entity::find()
            .filter(vendors::Column::VendorId.is_in(ids.to_vec()))
            .all(self.conn())
            .await
            .op("loading vendor names")?
            .into_iter()
            .map(|v| (v.vendor_id, v.name))
            .collect())
    }

    /// How many lines are in each status, across the gateway.
    pub async fn lines_by_status(&self) -> Result<Vec<(LineStatus, i64)>, StoreError> {
        order_lines::Entity::find()
            .select_only()
            .column(order_lines::Column::Status)
            .column_as(Expr::cust("COUNT(*)"), "n")
            .group_by(order_lines::Column::Status)
            .into_tuple()
            .all(self.conn())
            .await
            .op("counting lines by status")
    }

    /// Canceled lines whose revocation no store has confirmed yet.
    pub async fn outbox_depth(&self) -> Result<u64, StoreError> {
        self.count_lines(
            order_lines::Column::RevocationPending.eq(true),
            "counting the revocation outbox",
        )
        .await
    }

    /// Lines waiting for fulfilment.
    pub async fn fulfilment_queue(&self) -> Result<u64, StoreError> {
        self.count_lines(
            order_lines::Column::Status.eq(LineStatus::Processing),
            "counting the fulfilment queue",
        )
        .await
    }

    async fn count_lines(
        &self,
        cond: sea_orm::sea_query::SimpleExpr,
        op: &'static str,
    ) -> Result<u64, StoreError> {
        let n: Option<i64> = order_lines::Entity::find()
            .select_only()
            .column_as(Expr::cust("COUNT(*)"), "n")
            .filter(cond)
            .into_tuple()
            .one(self.conn())
            .await
            .op(op)?;
        Ok(n.map_or(0, |n| u64::try_from(n).unwrap_or(0)))
    }

    /// Accesses by result since `since_ms` (hour buckets starting then or later).
    pub async fn accesses_since(&self, since_ms: i64) -> Result<Vec<(String, i64)>, StoreError> {
        let rows: Vec<(String, Option<i64>)> = access_counts::Entity::find()
            .select_only()
            .column(access_counts::Column::Result)
            .column_as(Expr::cust("CAST(SUM(count) AS BIGINT)"), "n")
            .filter(access_counts::Column::HourMs.gte(since_ms))
            .group_by(access_counts::Column::Result)
            .into_tuple()
            .all(self.conn())
            .await
            .op("counting recent accesses")?;
        Ok(rows.into_iter().map(|(r, n)| (r, n.unwrap_or(0))).collect())
    }

    /// Hourly access counts by result since `since_ms`: (hour, result, count).
    pub async fn access_hours(&self, since_ms: i64) -> Result<Vec<(i64, String, i64)>, StoreError> {
        access_counts::Entity::find()
            .select_only()
            .column(access_counts::Column::HourMs)
            .column(access_counts::Column::Result)
            .column(access_counts::Column::Count)
            .filter(access_counts::Column::HourMs.gte(since_ms))
            .into_tuple()
            .all(self.conn())
            .await
            .op("reading hourly access counts")
    }

    /// When each line canceled since `since_ms` was canceled.
    pub async fn cancel_times(&self, since_ms: i64) -> Result<Vec<i64>, StoreError> {
        let times: Vec<Option<i64>> = order_lines::Entity::find()
            .select_only()
            .column(order_lines::Column::CanceledAtMs)
            .filter(order_lines::Column::CanceledAtMs.gte(since_ms))
            .into_tuple()
            .all(self.conn())
            .await
            .op("reading recent cancel times")?;
        Ok(times.into_iter().flatten().collect())
    }

    /// Deletes access events older than `before_ms`, up to `limit` of them
    /// (call again while it returns `limit`); other events are kept.
    pub async fn purge_access_events(&self, before_ms: i64, limit: u64) -> Result<u64, StoreError> {
        let op = "purging old access history";
        let ids: Vec<i64> = line_events::Entity::find()
            .select_only()
            .column(line_events::Column::Id)
            .filter(line_events::Column::Kind.eq("access"))
            .filter(line_events::Column::AtMs.lt(before_ms))
            .limit(limit)
            .into_tuple()
            .all(self.conn())
            .await
            .op(op)?;
        if ids.is_empty() {
            return Ok(0);
        }
        Ok(line_events::Entity::delete_many()
            .filter(line_events::Column::Id.is_in(ids))
            .exec(self.conn())
            .await
            .op(op)?
            .rows_affected)
    }
}

/// Adds to the hourly access counts: `(hour start in ms, result, how many)`,
/// each (hour, result) once. On any connection (the history writer's
/// transaction).
pub(super) async fn add_access_counts<C: sea_orm::ConnectionTrait>(
    conn: &C,
    counts: &[(i64, &str, i64)],
) -> Result<(), StoreError> {
    if counts.is_empty() {
        return Ok(());
    }
    let rows = counts
        .iter()
        .map(|(hour, result, n)| access_counts::ActiveModel {
            hour_ms: sea_orm::ActiveValue::Set(*hour),
            result: sea_orm::ActiveValue::Set((*result).to_owned()),
            count: sea_orm::ActiveValue::Set(*n),
        });
    access_counts::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::columns([access_counts::Column::HourMs, access_counts::Column::Result])
                .value(
                    access_counts::Column::Count,
                    Expr::cust("access_counts.count + excluded.count"),
                )
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await
        .op("adding access counts")
        .map(|_| ())
}
