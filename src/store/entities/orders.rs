use sea_orm::entity::prelude::*;

use crate::domain::{CustomerName, Environment, OrderNumber, VendorId};

/// One row per order (the search index of the operators' console); its lines
/// are in `order_lines`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "orders")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub vendor_id: VendorId,
    pub environment: Environment,
    pub order_number: OrderNumber,
    pub customer: CustomerName,
    pub created_at_ms: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
