//! Catalogue management (SPEC §11): an asset is `ACTIVE` or `RETIRED` (a
//! retired asset is no longer sold, and keeps serving what was sold), and
//! carries the state its file was found in by the last `storage verify`
//! (`ok`, `missing`, `altered`; `unchecked` until then) and when.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Assets {
    Table,
    Status,
    FileState,
    FileCheckedAtMs,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite takes one change per ALTER TABLE.
        manager
            .alter_table(
                Table::alter()
                    .table(Assets::Table)
                    .add_column(
                        ColumnDef::new(Assets::Status)
                            .string_len(16)
                            .not_null()
                            .default("ACTIVE"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Assets::Table)
                    .add_column(
                        ColumnDef::new(Assets::FileState)
                            .string_len(16)
                            .not_null()
                            .default("unchecked"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Assets::Table)
                    .add_column(ColumnDef::new(Assets::FileCheckedAtMs).big_integer().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Assets::FileCheckedAtMs, Assets::FileState, Assets::Status] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Assets::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
