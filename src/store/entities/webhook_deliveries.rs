use sea_orm::entity::prelude::*;

use crate::domain::{DeliveryState, WebhookId};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub event_id: String,
    pub webhook_id: WebhookId,
    pub state: DeliveryState,
    pub attempts: i32,
    pub next_attempt_at_ms: i64,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at_ms: i64,
    pub finished_at_ms: Option<i64>,
    /// Sent after every earlier pending delivery of its endpoint; `false`
    /// for `webhook.test`, which never waits (SPEC §9).
    pub ordered: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
