//! `OrderItem` (SPEC §4): the public shape of an order line — what the API
//! answers and what webhooks carry.

use serde::Serialize;

use super::LineView;
use crate::domain::{
    AssetId, CancelReason, CancelReasonCode, CanceledBy, CountryCode, CustomerName, LineStatus,
    Metadata, OrderLineId, OrderNumber, Price, Quantity, ms_to_rfc3339,
};
use crate::store::orders::OrderLine;

/// `OrderItem`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderItem {
    pub order_id: OrderNumber,
    pub order_line_id: OrderLineId,
    pub asset_id: AssetId,
    pub customer: CustomerName,
    pub unit_price: Price,
    pub line_item_price: Price,
    pub quantity: Quantity,
    pub country_code: Option<CountryCode>,
    pub download_url: Option<String>,
    pub view_url: Option<String>,
    pub status: LineStatus,
    pub created_at: String,
    pub updated_at: String,
    pub canceled_at: Option<String>,
    /// On a canceled line: `vendor` (the shop, through the API) or `operator`
    /// (the gateway's console, admin API or CLI); the history names who exactly.
    pub canceled_by: Option<CanceledBy>,
    pub cancel_reason: Option<CancelReason>,
    /// Why, as data: `refund`, `dispute`, `manual` or `legal`.
    pub cancel_reason_code: Option<CancelReasonCode>,
    pub failure_message: Option<String>,
    /// Why a FAILED line failed, for machines: `stamping_failed`,
    /// `file_unavailable` or `asset_missing` (an extension).
    pub failure_reason: Option<String>,
    /// Until when links can be minted (RFC 3339; null: no window). An extension.
    pub access_until: Option<String>,
    pub metadata: Option<Metadata>,
}

impl OrderItem {
    /// The item without links (where links are not minted).
    pub fn of_line(line: OrderLine) -> Self {
        Self::from(LineView {
            line,
            download: None,
            view: None,
        })
    }
}

impl From<LineView> for OrderItem {
    fn from(v: LineView) -> Self {
        let l = v.line;
        Self {
            order_id: l.order_number,
            order_line_id: l.order_line_id,
            asset_id: l.asset_id,
            customer: l.customer,
            unit_price: l.unit_price,
            line_item_price: l.line_item_price,
            quantity: l.quantity,
            country_code: l.country_code,
            download_url: v.download.map(|m| m.url),
            view_url: v.view.map(|m| m.url),
            status: l.status,
            created_at: ms_to_rfc3339(l.created_at_ms),
            updated_at: ms_to_rfc3339(l.updated_at_ms),
            canceled_at: l.canceled_at_ms.map(ms_to_rfc3339),
            canceled_by: l.canceled_by.as_ref().map(CanceledBy::from),
            cancel_reason: l.cancel_reason,
            cancel_reason_code: l.cancel_reason_code,
            failure_message: l.failure_message,
            failure_reason: l.failure_reason,
            access_until: l.access_until_ms.map(ms_to_rfc3339),
            metadata: l.metadata,
        }
    }
}
