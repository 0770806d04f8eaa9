use sea_orm::entity::prelude::*;

use crate::domain::{
    Actor, AssetId, CancelReason, CancelReasonCode, CountryCode, CustomerName, Environment, LineId,
    LineStatus, Metadata, OrderLineId, OrderNumber, Price, Quantity, Sha256Digest, VendorId,
};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "order_lines")]
pub struct Model {
    #[sea_orm(primary_key, column_name = "id")]
    pub line_id: LineId,
    pub vendor_id: VendorId,
    pub environment: Environment,
    pub order_number: OrderNumber,
    pub order_line_id: OrderLineId,
    pub asset_id: AssetId,
    pub customer: CustomerName,
    pub unit_price: Price,
    pub line_item_price: Price,
    pub quantity: Quantity,
    pub country_code: Option<CountryCode>,
    pub metadata: Option<Metadata>,
    pub status: LineStatus,
    pub failure_message: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub canceled_at_ms: Option<i64>,
    pub cancel_reason: Option<CancelReason>,
    pub cancel_reason_code: Option<CancelReasonCode>,
    pub canceled_by: Option<Actor>,
    pub revoke_until_ms: Option<i64>,
    pub revocation_pending: bool,
    /// The latest expiry of a link minted for longer than the configured TTL.
    pub links_until_ms: Option<i64>,
    pub claim_until_ms: Option<i64>,
    pub claimed_by: Option<String>,
    pub fulfil_attempts: i32,
    /// This line's stamped copy of a `stamp = pdf` asset (SPEC §12).
    pub copy_sha256: Option<Sha256Digest>,
    pub copy_size_bytes: Option<i64>,
    /// When housekeeping removed the copy (a canceled line, past its window).
    pub copy_removed_at_ms: Option<i64>,
    /// Why a FAILED line failed, for machines: `stamping_failed`,
    /// `file_unavailable`, `asset_missing`.
    pub failure_reason: Option<String>,
    /// Until when links can be minted (the asset's `access_days`, fixed at fulfilment).
    pub access_until_ms: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
