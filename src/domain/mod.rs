//! Domain values: typed ids, parsed request values, the order-line state machine.
//! Nothing here touches the database or HTTP.

mod ids;
pub mod secrets;
mod status;
mod values;

pub use ids::{AssetId, LineId, OrderLineId, OrderNumber, TokenId, VendorId};
pub use status::{Environment, LineStatus, VendorStatus};
pub use values::{
    CancelReason, CountryCode, CustomerName, IdempotencyKey, Metadata, Price, Quantity, ValueError,
};

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
