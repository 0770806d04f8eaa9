//! The latest expiry of a link minted for longer than `links.ttl_seconds`
//! (support's reissue for 1 hour, 24 hours or 7 days): a cancel keeps the
//! line's revocation entry at least until then, so no such link outlives it.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OrderLines {
    Table,
    LinksUntilMs,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(OrderLines::Table)
                    .add_column(
                        ColumnDef::new(OrderLines::LinksUntilMs)
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
                    .drop_column(OrderLines::LinksUntilMs)
                    .to_owned(),
            )
            .await
    }
}
