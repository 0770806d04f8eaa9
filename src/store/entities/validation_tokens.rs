use sea_orm::entity::prelude::*;

use crate::domain::{AssetId, CountryCode, Environment, Quantity, VendorId};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "validation_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(unique)]
    pub token_hash: String,
    pub vendor_id: VendorId,
    pub environment: Environment,
    pub asset_id: AssetId,
    pub quantity: Quantity,
    pub country_code: Option<CountryCode>,
    pub customer_ip: String,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    pub used_at_ms: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
