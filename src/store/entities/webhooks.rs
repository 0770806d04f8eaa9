use sea_orm::entity::prelude::*;

use crate::domain::secrets::Hidden;
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
    pub secret: Hidden,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::secrets::Hidden;
    use crate::domain::{Environment, EventFilter, VendorId, WebhookId, WebhookStatus};

    /// An endpoint, a console session: printed for a log, their secrets are not.
    #[test]
    fn debug_output_never_shows_a_webhook_secret_or_a_csrf_token() {
        let hook = Model {
            webhook_id: WebhookId::new(),
            vendor_id: VendorId::new(),
            environment: Environment::Live,
            url: "https://example.com/hook".to_owned(),
            events: EventFilter::default(),
            description: None,
            secret: Hidden::new("whsec_c2VjcmV0c2VjcmV0"),
            status: WebhookStatus::Enabled,
            created_at_ms: 1,
            failing_since_ms: None,
            disabled_reason: None,
            lease_until_ms: None,
            leased_by: None,
        };
        let shown = format!("{hook:?}");
        assert!(!shown.contains("c2VjcmV0c2VjcmV0"), "{shown}");
        assert!(shown.contains("[REDACTED]") && shown.contains("example.com"));
        let session = crate::store::admins::Session {
            operator: crate::app::operators::Operator {
                id: crate::domain::AdminId::new(),
                name: crate::domain::AdminName::parse("Ann").expect("a name"),
                role: crate::domain::Role::Viewer,
            },
            csrf: Hidden::new("csrf-0123456789abcdef"),
            expires_at_ms: 1,
        };
        let shown = format!("{session:?}");
        assert!(!shown.contains("0123456789abcdef"), "{shown}");
    }
}
