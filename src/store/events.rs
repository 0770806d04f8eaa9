//! The per-line history operators read: registered, fulfilled, failed,
//! link issued, each access, canceled — each with its actor.

use std::fmt::Write as _;

use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait as _, ConnectionTrait, DbBackend, EntityTrait as _, QueryFilter as _,
    QueryOrder as _, QuerySelect as _, Statement, TransactionTrait as _, Value,
};

use super::entities::line_events;
use super::{Op as _, Store, StoreError};
use crate::domain::{Actor, LineId};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    Registered,
    Fulfilled,
    Failed,
    LinkIssued,
    Access,
    Canceled,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registered => "registered",
            Self::Fulfilled => "fulfilled",
            Self::Failed => "failed",
            Self::LinkIssued => "link_issued",
            Self::Access => "access",
            Self::Canceled => "canceled",
        }
    }
}

#[derive(Clone, Debug)]
pub struct NewEvent {
    pub line_id: LineId,
    pub kind: EventKind,
    pub at_ms: i64,
    pub actor: Actor,
    pub data: serde_json::Value,
}

/// One download for the history: an event of kind `access` by the
/// gateway itself (`system`), its details already rendered as JSON.
#[derive(Clone, Debug)]
pub struct AccessRow {
    pub line_id: LineId,
    pub at_ms: i64,
    pub data: String,
    /// Kept for refusals only: the reference the buyer's error page shows.
    pub request_id: Option<String>,
}

/// Rows per `INSERT` of [`Store::record_accesses`]: a run of rows is written
/// in statements of this many, then of the powers of two below it, so a
/// connection prepares at most nine statement texts (and keeps them).
const ACCESS_ROWS_PER_INSERT: usize = 256;

/// One recorded event.
#[derive(Clone, Debug)]
pub struct Event {
    pub line_id: LineId,
    pub kind: String,
    pub at_ms: i64,
    pub actor: Actor,
    pub data: serde_json::Value,
    /// A refused download's request id (the buyer's "Reference").
    pub request_id: Option<String>,
}

fn active(e: NewEvent) -> line_events::ActiveModel {
    line_events::ActiveModel {
        id: NotSet,
        line_id: Set(e.line_id),
        kind: Set(e.kind.as_str().to_owned()),
        at_ms: Set(e.at_ms),
        actor: Set(e.actor),
        data: Set(e.data.to_string()),
        request_id: Set(None),
    }
}

/// Records events on any connection (so callers can include them in a transaction).
pub(super) async fn record<C: ConnectionTrait>(
    conn: &C,
    events: Vec<NewEvent>,
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    line_events::Entity::insert_many(events.into_iter().map(active))
        .exec_without_returning(conn)
        .await
        .op("recording history events")
        .map(|_| ())
}

/// `INSERT` of these accesses: four parameters a row, kind and actor fixed.
fn insert_accesses(
    backend: DbBackend,
    rows: impl ExactSizeIterator<Item = AccessRow>,
) -> Statement {
    let (kind, actor) = (EventKind::Access.as_str(), Actor::Buyer.to_string());
    let mut sql = String::with_capacity(80 + rows.len() * 40);
    sql.push_str("INSERT INTO line_events (line_id, kind, at_ms, actor, data, request_id) VALUES ");
    let mut values: Vec<Value> = Vec::with_capacity(rows.len() * 4);
    for (i, row) in rows.enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        let _ = match backend {
            DbBackend::Postgres => {
                let n = 4 * i;
                write!(
                    sql,
                    "(${}, '{kind}', ${}, '{actor}', ${}, ${})",
                    n + 1,
                    n + 2,
                    n + 3,
                    n + 4
                )
            }
            _ => write!(sql, "(?, '{kind}', ?, '{actor}', ?, ?)"),
        };
        values.extend([
            row.line_id.into(),
            row.at_ms.into(),
            row.data.into(),
            row.request_id.into(),
        ]);
    }
    Statement::from_sql_and_values(backend, sql, values)
}

impl Store {
    /// Records downloads and adds them to the hourly access counts, in one
    /// transaction: all of it is stored or none (the history writer then
    /// retries the same batch, so nothing is counted twice).
    pub async fn record_accesses(
        &self,
        rows: Vec<AccessRow>,
        counts: &[(i64, &str, i64)],
    ) -> Result<(), StoreError> {
        let op = "recording access history";
        self.cancels.wait_for_none().await;
        let txn = self.conn().begin().await.op(op)?;
        let backend = txn.get_database_backend();
        let mut rows = rows.into_iter();
        while rows.len() > 0 {
            let n = rows.len().min(ACCESS_ROWS_PER_INSERT);
            // The largest power of two not above `n`.
            let n = 1 << n.ilog2();
            txn.execute_raw(insert_accesses(backend, rows.by_ref().take(n)))
                .await
                .op(op)?;
        }
        super::search::add_access_counts(&txn, counts).await?;
        txn.commit().await.op(op)
    }

    pub async fn record_events(&self, events: Vec<NewEvent>) -> Result<(), StoreError> {
        record(self.conn(), events).await
    }

    /// The `link_issued` events of these lines since `since_ms`.
    pub async fn links_issued_since(
        &self,
        lines: &[LineId],
        since_ms: i64,
    ) -> Result<Vec<Event>, StoreError> {
        if lines.is_empty() {
            return Ok(Vec::new());
        }
        Ok(line_events::Entity::find()
            .filter(line_events::Column::LineId.is_in(lines.to_vec()))
            .filter(line_events::Column::Kind.eq(EventKind::LinkIssued.as_str()))
            .filter(line_events::Column::AtMs.gte(since_ms))
            .all(self.conn())
            .await
            .op("reading recent links")?
            .into_iter()
            .map(Event::from)
            .collect())
    }

    /// A page of the history of these lines, newest first: events before
    /// `before_ms` (if given), at most `limit`.
    pub async fn history_page(
        &self,
        lines: &[LineId],
        before_ms: Option<i64>,
        limit: u64,
    ) -> Result<Vec<Event>, StoreError> {
        let mut q =
            line_events::Entity::find().filter(line_events::Column::LineId.is_in(lines.to_vec()));
        if let Some(before) = before_ms {
            q = q.filter(line_events::Column::AtMs.lt(before));
        }
        Ok(q.order_by_desc(line_events::Column::AtMs)
            .order_by_desc(line_events::Column::Id)
            .limit(limit)
            .all(self.conn())
            .await
            .op("reading order history")?
            .into_iter()
            .map(Event::from)
            .collect())
    }

    /// The history of these lines, oldest first.
    pub async fn history(&self, lines: &[LineId]) -> Result<Vec<Event>, StoreError> {
        Ok(line_events::Entity::find()
            .filter(line_events::Column::LineId.is_in(lines.to_vec()))
            .order_by_asc(line_events::Column::Id)
            .all(self.conn())
            .await
            .op("reading order history")?
            .into_iter()
            .map(Event::from)
            .collect())
    }
}

impl From<line_events::Model> for Event {
    fn from(m: line_events::Model) -> Self {
        Self {
            line_id: m.line_id,
            kind: m.kind,
            at_ms: m.at_ms,
            actor: m.actor,
            data: serde_json::from_str(&m.data).unwrap_or(serde_json::Value::Null),
            request_id: m.request_id,
        }
    }
}
