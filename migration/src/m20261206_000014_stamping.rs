//! Per-buyer PDF stamping (SPEC §12): an asset's `stamp` policy, each line's
//! own copy (its sha256 and size in the catalogue store, and when the
//! housekeeping removed it), and a machine-readable reason for a FAILED line.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Assets {
    Table,
    Stamp,
}

#[derive(DeriveIden)]
enum OrderLines {
    Table,
    CopySha256,
    CopySizeBytes,
    CopyRemovedAtMs,
    FailureReason,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Assets::Table)
                    .add_column(
                        ColumnDef::new(Assets::Stamp)
                            .string_len(8)
                            .not_null()
                            .default("none"),
                    )
                    .to_owned(),
            )
            .await?;
        // SQLite adds one column per ALTER TABLE.
        for column in [
            ColumnDef::new(OrderLines::CopySha256)
                .string_len(64)
                .null()
                .to_owned(),
            ColumnDef::new(OrderLines::CopySizeBytes)
                .big_integer()
                .null()
                .to_owned(),
            ColumnDef::new(OrderLines::CopyRemovedAtMs)
                .big_integer()
                .null()
                .to_owned(),
            ColumnDef::new(OrderLines::FailureReason)
                .string_len(32)
                .null()
                .to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(OrderLines::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            OrderLines::CopySha256,
            OrderLines::CopySizeBytes,
            OrderLines::CopyRemovedAtMs,
            OrderLines::FailureReason,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(OrderLines::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Assets::Table)
                    .drop_column(Assets::Stamp)
                    .to_owned(),
            )
            .await
    }
}
