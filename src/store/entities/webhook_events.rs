use sea_orm::entity::prelude::*;

use crate::domain::{Environment, EventType, VendorId};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_events")]
pub struct Model {
    /// `msg_…`: the `webhook-id` header, the same on every attempt.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub vendor_id: VendorId,
    pub environment: Environment,
    pub kind: EventType,
    /// The exact body sent.
    pub payload: String,
    pub created_at_ms: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
