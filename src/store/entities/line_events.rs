use sea_orm::entity::prelude::*;

use crate::domain::{Actor, LineId};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "line_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub line_id: LineId,
    pub kind: String,
    pub at_ms: i64,
    pub actor: Actor,
    pub data: String,
    /// The request id of a refused download (the buyer's "Reference").
    pub request_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
