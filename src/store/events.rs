//! The per-line history operators read: registered, fulfilled, failed,
//! link issued, each access, canceled.

use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait as _, ConnectionTrait, DbErr, EntityTrait as _, QueryFilter as _, QueryOrder as _,
};
use serde::Serialize;

use super::Store;
use super::entities::line_events;
use crate::domain::{LineId, ms_to_rfc3339};

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
    pub data: serde_json::Value,
}

/// One recorded event, as `order show` prints it.
#[derive(Clone, Debug, Serialize)]
pub struct Event {
    pub line_id: i64,
    pub kind: String,
    pub at: String,
    pub data: serde_json::Value,
}

fn active(e: NewEvent) -> line_events::ActiveModel {
    line_events::ActiveModel {
        id: NotSet,
        line_id: Set(e.line_id.get()),
        kind: Set(e.kind.as_str().to_owned()),
        at_ms: Set(e.at_ms),
        data: Set(e.data.to_string()),
    }
}

/// Records events on any connection (so callers can include them in a transaction).
pub async fn record<C: ConnectionTrait>(conn: &C, events: Vec<NewEvent>) -> Result<(), DbErr> {
    if events.is_empty() {
        return Ok(());
    }
    line_events::Entity::insert_many(events.into_iter().map(active))
        .exec_without_returning(conn)
        .await
        .map(|_| ())
}

impl Store {
    pub async fn record_events(&self, events: Vec<NewEvent>) -> Result<(), DbErr> {
        record(self.conn(), events).await
    }

    pub async fn history(&self, line_ids: &[i64]) -> Result<Vec<Event>, DbErr> {
        Ok(line_events::Entity::find()
            .filter(line_events::Column::LineId.is_in(line_ids.iter().copied()))
            .order_by_asc(line_events::Column::Id)
            .all(self.conn())
            .await?
            .into_iter()
            .map(|m| Event {
                line_id: m.line_id,
                kind: m.kind,
                at: ms_to_rfc3339(m.at_ms),
                data: serde_json::from_str(&m.data).unwrap_or(serde_json::Value::Null),
            })
            .collect())
    }
}
