use sea_orm::entity::prelude::*;

use crate::domain::{Actor, AdminId};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "admin_audit")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub at_ms: i64,
    /// `operator:<name>` or `cli:<os user>`.
    pub actor: Actor,
    /// The operator's id (none for a CLI change).
    pub admin_id: Option<AdminId>,
    pub action: String,
    pub target: String,
    pub details: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
