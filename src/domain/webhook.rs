//! Vendor webhooks and why a line was canceled.

use std::fmt;
use std::str::FromStr;

use sea_orm::DeriveValueType;
use serde::{Deserialize, Serialize};

use super::ValueError;

string_enum!(
    /// Why a line was canceled, as data (the four cases the HL guide names).
    CancelReasonCode, "reason_code", {
        Refund => "refund",
        Dispute => "dispute",
        Manual => "manual",
        Legal => "legal",
    }
);

string_enum!(
    /// What a webhook reports.
    EventType, "event type", {
        Completed => "order_line.completed",
        Failed => "order_line.failed",
        Canceled => "order_line.canceled",
        Test => "webhook.test",
    }
);

string_enum!(
    /// Whether an endpoint receives deliveries.
    WebhookStatus, "webhook status", {
        Enabled => "ENABLED",
        Disabled => "DISABLED",
        Deleted => "DELETED",
    }
);

string_enum!(
    /// Where one delivery stands.
    DeliveryState, "delivery state", {
        Pending => "pending",
        Delivered => "delivered",
        Failed => "failed",
    }
);

/// The event types an endpoint subscribes to; empty means all (SPEC §9).
/// Stored as comma-separated names.
#[derive(Clone, Debug, Default, PartialEq, Eq, DeriveValueType)]
#[sea_orm(value_type = "String")]
pub struct EventFilter(Vec<EventType>);

impl EventFilter {
    pub fn new(types: Vec<EventType>) -> Self {
        Self(types)
    }

    /// The types listed, or every line event when none are.
    pub fn types(&self) -> Vec<EventType> {
        if self.0.is_empty() {
            vec![EventType::Completed, EventType::Failed, EventType::Canceled]
        } else {
            self.0.clone()
        }
    }

    pub fn wants(&self, t: EventType) -> bool {
        t == EventType::Test || self.0.is_empty() || self.0.contains(&t)
    }
}

impl fmt::Display for EventFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.0.iter().map(|t| t.as_str()).collect();
        f.write_str(&names.join(","))
    }
}

impl FromStr for EventFilter {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        s.split(',')
            .filter(|t| !t.trim().is_empty())
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_others_are_refused() {
        for code in CancelReasonCode::ALL {
            assert_eq!(code.as_str().parse::<CancelReasonCode>().ok(), Some(*code));
        }
        assert!("chargeback".parse::<CancelReasonCode>().is_err());
        let filter: EventFilter = "order_line.canceled,order_line.failed"
            .parse()
            .unwrap_or_default();
        assert!(filter.wants(EventType::Canceled) && !filter.wants(EventType::Completed));
        assert!(
            filter.wants(EventType::Test),
            "a test event reaches every endpoint"
        );
        assert_eq!(filter.to_string().parse::<EventFilter>().ok(), Some(filter));
        assert!(EventFilter::default().wants(EventType::Completed));
        assert!("order.shipped".parse::<EventFilter>().is_err());
    }
}
