use sea_orm::entity::prelude::*;

use crate::domain::{Environment, EventFilter, VendorId, WebhookId, WebhookStatus};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "webhooks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false, column_name = "id")]
    pub webhook_id: WebhookId,
    pub vendor_id: VendorId,
    pub environment: Environment,
    pub url: String,
    pub events: EventFilter,
    pub description: Option<String>,
    /// `whsec_…`: kept to sign deliveries (shown to the vendor once).
    pub secret: String,
    pub status: WebhookStatus,
    pub created_at_ms: i64,
    pub failing_since_ms: Option<i64>,
    pub disabled_reason: Option<String>,
    /// The instance sending this endpoint's deliveries, and until when.
    pub lease_until_ms: Option<i64>,
    pub leased_by: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
