use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "access_counts")]
pub struct Model {
    /// Start of the hour, unix milliseconds.
    #[sea_orm(primary_key, auto_increment = false)]
    pub hour_ms: i64,
    /// `served` or an error name.
    #[sea_orm(primary_key, auto_increment = false)]
    pub result: String,
    pub count: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
