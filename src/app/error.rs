//! What a use case can answer instead of its result. HTTP-free: the API maps
//! each variant to a status, a stable name and a code (`http::error`).

use crate::domain::{
    AdminId, AssetId, Countries, CountryCode, LineStatus, OrderLineId, OrderNumber, Role, TokenId,
    VendorId, WebhookId,
};
use crate::revocation::RevocationError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("Order {order} was not found.")]
    OrderNotFound {
        order: OrderNumber,
        line: Option<OrderLineId>,
    },
    #[error("Asset {0} was not found.")]
    AssetNotFound(AssetId),
    #[error("asset_id {0} already exists; choose another asset id or omit it.")]
    AssetExists(AssetId),
    #[error("Vendor {0} was not found.")]
    VendorNotFound(VendorId),
    #[error("API token {0} was not found.")]
    TokenNotFound(TokenId),
    #[error("Admin {0} was not found.")]
    AdminNotFound(AdminId),
    #[error(
        "Your role ({role}) cannot {action}; that takes the {needed} role. Ask an admin to change your role."
    )]
    RoleForbidden {
        role: Role,
        needed: Role,
        action: &'static str,
    },
    #[error("Webhook endpoint {0} was not found.")]
    WebhookNotFound(WebhookId),
    #[error("Webhook delivery {0} was not found.")]
    DeliveryNotFound(i64),
    #[error("Event {0} was never queued for this webhook endpoint.")]
    EventNotFound(String),
    #[error("This URL cannot receive webhooks: {0}.")]
    WebhookUrlNotAllowed(String),
    #[error("A vendor may have at most {limit} webhook endpoints; delete one first.")]
    WebhookLimitReached { limit: u32 },
    #[error("Order line {line} of order {order} is already registered.")]
    OrderExists {
        order: OrderNumber,
        line: OrderLineId,
    },
    #[error("{message}")]
    OrderNotCancelable {
        message: String,
        current_status: LineStatus,
    },
    #[error(
        "Order line {line} of order {order} is {current_status}; links are only available for COMPLETED lines."
    )]
    OrderNotAccessible {
        order: OrderNumber,
        line: OrderLineId,
        current_status: LineStatus,
    },
    #[error("Asset {0} cannot be viewed online; request a download URL instead.")]
    AssetNotViewable(AssetId),
    #[error(
        "This file cannot be stamped ({reason}). Upload an unencrypted, undamaged PDF, or set stamp to none."
    )]
    StampingUnsupported { reason: String },
    #[error(
        "The stamp policy of asset {0} cannot change: it has sold lines, and every buyer of a stamped asset must get a stamped copy. Add a new asset with the policy you want and retire this one."
    )]
    StampLocked(AssetId),
    #[error("The access window of order {order} line {line} closed at {}: no new link can be issued. Links issued before then work until they expire.", crate::domain::ms_to_rfc3339(*until_ms))]
    AccessWindowClosed {
        order: OrderNumber,
        line: OrderLineId,
        until_ms: i64,
    },
    #[error("The validation token is not valid for this vendor and environment.")]
    ValidationTokenInvalid,
    #[error("The validation token has expired; validate the purchase again.")]
    ValidationTokenExpired,
    #[error("The validation token has already been used; validate the purchase again.")]
    ValidationTokenUsed,
    #[error("Quantity {quantity} is below the minimum of {min_qty} for asset {asset}.")]
    QuantityBelowMinimum {
        asset: AssetId,
        quantity: i32,
        min_qty: i32,
    },
    #[error("Asset {asset} may not be sold to this region.")]
    RegionNotAllowed {
        asset: AssetId,
        country: Option<CountryCode>,
        countries: Countries,
    },
    /// A value that parsed but does not fit the request (e.g. a part repeating a line).
    #[error("Invalid request: {field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("Asset {0} is retired: it is no longer sold.")]
    AssetRetired(AssetId),
    #[error("This link is not valid.")]
    LinkInvalid,
    #[error("This link has expired; ask the shop for a new one.")]
    LinkExpired,
    #[error("This link has been revoked.")]
    AccessRevoked,
    #[error("The file for this link is not available.")]
    FileUnavailable,
    #[error("Revocation status cannot be confirmed right now; retry in a few seconds.")]
    RevocationUnavailable,
    #[error("The file store cannot be reached right now; retry in a few seconds.")]
    StorageUnavailable,
    #[error("This Idempotency-Key was already used with a different request.")]
    IdempotencyKeyReused,
    #[error("A request with this Idempotency-Key is still being processed; retry shortly.")]
    IdempotencyInProgress,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal error: {0:#}")]
    Internal(anyhow::Error),
}

impl AppError {
    pub fn invalid(field: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        Self::Invalid {
            field: field.into(),
            reason: reason.to_string(),
        }
    }

    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        Self::Internal(e.into())
    }
}

impl From<RevocationError> for AppError {
    fn from(_: RevocationError) -> Self {
        Self::RevocationUnavailable
    }
}
