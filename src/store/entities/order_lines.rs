use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "order_lines")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub vendor_id: String,
    pub environment: String,
    pub order_number: i64,
    pub order_line_id: i64,
    pub asset_id: i64,
    pub customer: String,
    pub unit_price: f64,
    pub line_item_price: f64,
    pub quantity: i32,
    pub country_code: Option<String>,
    pub metadata: Option<String>,
    pub status: String,
    pub failure_message: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub canceled_at_ms: Option<i64>,
    pub cancel_reason: Option<String>,
    pub canceled_by_token: Option<String>,
    pub revoke_until_ms: Option<i64>,
    pub revocation_pending: bool,
    pub claim_until_ms: Option<i64>,
    pub claimed_by: Option<String>,
    pub fulfil_attempts: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
