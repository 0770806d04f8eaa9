//! Operator roles (SPEC §7): `viewer`, `support` or `admin`. Operators who
//! existed before roles keep doing everything (`admin`).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Admins {
    Table,
    Role,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Admins::Table)
                    .add_column(
                        ColumnDef::new(Admins::Role)
                            .string_len(16)
                            .not_null()
                            .default("admin"),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Admins::Table)
                    .drop_column(Admins::Role)
                    .to_owned(),
            )
            .await
    }
}
