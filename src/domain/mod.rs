//! Domain values: typed ids, parsed request values, the order-line state machine.
//! Nothing here touches HTTP. Typed values cross the database boundary as
//! themselves (sea-orm `DeriveValueType`), so the store reads and writes them.

#[macro_use]
mod macros;

mod actor;
mod digest;
pub mod file_name;
mod ids;
mod policy;
mod privacy;
mod revocation;
mod role;
pub mod secrets;
mod status;
mod values;
mod webhook;

pub use actor::{Actor, CanceledBy, OrderRef, Tenant};
pub use digest::{Sha256Digest, is_sha256_hex};
pub use ids::{AdminId, AssetId, LineId, OrderLineId, OrderNumber, TokenId, VendorId, WebhookId};
pub use policy::Stamp;
pub use privacy::IpPolicy;
pub use revocation::Revocation;
pub use role::Role;
pub use status::{AssetStatus, Environment, FileState, LineStatus, VendorStatus};
pub use values::{
    AdminName, CancelReason, Countries, CountryCode, CustomerName, IdempotencyKey, Metadata, Price,
    Quantity, ValueError,
};

pub use webhook::{CancelReasonCode, DeliveryState, EventFilter, EventType, WebhookStatus};

/// Why lines are canceled: the text shown to people, and optionally its code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CancelWhy {
    pub reason: CancelReason,
    pub code: Option<CancelReasonCode>,
}

/// Milliseconds since the unix epoch: how every timestamp is stored.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// RFC 3339 rendering of a stored timestamp.
pub fn ms_to_rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
