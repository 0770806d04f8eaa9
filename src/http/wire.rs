//! The JSON shapes of the API (SPEC §4) and of the operator CLI, built from
//! the use cases' results. Store read models never go on the wire themselves.

use serde::Serialize;

use crate::app::LineView;
use crate::domain::{
    AssetId, CancelReason, CountryCode, CustomerName, Environment, LineStatus, Metadata,
    OrderLineId, OrderNumber, Price, Quantity, Sha256Digest, TokenId, VendorId, VendorStatus,
    ms_to_rfc3339,
};
use crate::links::Minted;
use crate::store::assets::Asset;
use crate::store::orders::OrderLine;
use crate::store::tokens::TokenRecord;
use crate::store::vendors::Vendor;

/// `OrderItem`.
#[derive(Debug, Serialize)]
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
    pub cancel_reason: Option<CancelReason>,
    pub failure_message: Option<String>,
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
            cancel_reason: l.cancel_reason,
            failure_message: l.failure_message,
            metadata: l.metadata,
        }
    }
}

pub fn order_items(views: Vec<LineView>) -> Vec<OrderItem> {
    views.into_iter().map(OrderItem::from).collect()
}

/// `AssetItem`.
#[derive(Debug, Serialize)]
pub struct AssetItem {
    pub asset_id: AssetId,
    pub title: String,
    pub description: Option<String>,
    pub format: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: Sha256Digest,
    pub viewable: bool,
    pub countries: Vec<CountryCode>,
    /// Sellable everywhere (no country restriction).
    pub world: bool,
    pub min_qty: i32,
}

impl From<Asset> for AssetItem {
    fn from(a: Asset) -> Self {
        Self {
            asset_id: a.asset_id,
            title: a.title,
            description: a.description,
            format: a.format,
            content_type: a.content_type,
            size_bytes: a.size_bytes,
            sha256: a.sha256,
            viewable: a.viewable,
            world: a.countries.is_world(),
            countries: a.countries.codes().to_vec(),
            min_qty: a.min_qty,
        }
    }
}

/// A link as download-url / view-url answer it.
#[derive(Debug, Serialize)]
pub struct LinkItem {
    pub url: String,
    pub expires_at: String,
}

impl From<Minted> for LinkItem {
    fn from(m: Minted) -> Self {
        Self {
            url: m.url,
            expires_at: ms_to_rfc3339(m.expires_at * 1000),
        }
    }
}

/// A vendor as the CLI (and the operators' API) show it.
#[derive(Debug, Serialize)]
pub struct VendorItem {
    pub vendor_id: VendorId,
    pub name: String,
    pub status: VendorStatus,
    pub created_at: String,
}

impl From<Vendor> for VendorItem {
    fn from(v: Vendor) -> Self {
        Self {
            vendor_id: v.vendor_id,
            name: v.name,
            status: v.status,
            created_at: ms_to_rfc3339(v.created_at_ms),
        }
    }
}

/// An API token, never its secret.
#[derive(Debug, Serialize)]
pub struct TokenItem {
    pub token_id: TokenId,
    pub vendor_id: VendorId,
    pub environment: Environment,
    pub prefix: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

impl From<TokenRecord> for TokenItem {
    fn from(t: TokenRecord) -> Self {
        Self {
            token_id: t.token_id,
            vendor_id: t.vendor_id,
            environment: t.environment,
            prefix: t.prefix,
            created_at: ms_to_rfc3339(t.created_at_ms),
            revoked_at: t.revoked_at_ms.map(ms_to_rfc3339),
        }
    }
}
