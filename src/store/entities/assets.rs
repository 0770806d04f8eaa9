use sea_orm::entity::prelude::*;

use crate::domain::{AssetId, AssetStatus, Countries, FileState, Sha256Digest, Stamp};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "assets")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub asset_id: AssetId,
    pub title: String,
    pub description: Option<String>,
    pub format: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: Sha256Digest,
    pub viewable: bool,
    pub countries: Countries,
    pub min_qty: i32,
    pub file_name: String,
    pub created_at_ms: i64,
    pub status: AssetStatus,
    pub file_state: FileState,
    pub file_checked_at_ms: Option<i64>,
    /// Whether each buyer gets a stamped copy (SPEC §12).
    pub stamp: Stamp,
    /// Links can be minted for this many days after fulfilment (SPEC §12).
    pub access_days: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
