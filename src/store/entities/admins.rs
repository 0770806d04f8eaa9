use sea_orm::entity::prelude::*;

use crate::domain::{AdminId, AdminName, Role};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "admins")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false, column_name = "id")]
    pub admin_id: AdminId,
    #[sea_orm(unique)]
    pub name: AdminName,
    #[sea_orm(unique)]
    pub token_hash: String,
    pub display_prefix: String,
    pub role: Role,
    pub created_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
