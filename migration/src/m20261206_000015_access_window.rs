//! Access windows (SPEC §12 `access_days`): the asset's policy, and each
//! line's window, fixed when it is fulfilled (what the buyer bought does not
//! change if the policy does later).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Assets {
    Table,
    AccessDays,
}

#[derive(DeriveIden)]
enum OrderLines {
    Table,
    AccessUntilMs,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Assets::Table)
                    .add_column(ColumnDef::new(Assets::AccessDays).integer().null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(OrderLines::Table)
                    .add_column(
                        ColumnDef::new(OrderLines::AccessUntilMs)
                            .big_integer()
                            .null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(OrderLines::Table)
                    .drop_column(OrderLines::AccessUntilMs)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Assets::Table)
                    .drop_column(Assets::AccessDays)
                    .to_owned(),
            )
            .await
    }
}
