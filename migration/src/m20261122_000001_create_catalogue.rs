//! Vendors, their API tokens, and the operator's asset catalogue.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Vendors {
    Table,
    Id,
    Name,
    Status,
    CreatedAtMs,
    UpdatedAtMs,
}

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    Id,
    VendorId,
    Environment,
    TokenHash,
    DisplayPrefix,
    CreatedAtMs,
    RevokedAtMs,
}

#[derive(DeriveIden)]
enum Assets {
    Table,
    AssetId,
    Title,
    Description,
    Format,
    ContentType,
    SizeBytes,
    Sha256,
    Viewable,
    Countries,
    MinQty,
    FileName,
    CreatedAtMs,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Vendors::Table)
                    .col(
                        ColumnDef::new(Vendors::Id)
                            .string_len(36)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Vendors::Name).string_len(200).not_null())
                    .col(ColumnDef::new(Vendors::Status).string_len(16).not_null())
                    .col(
                        ColumnDef::new(Vendors::CreatedAtMs)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Vendors::UpdatedAtMs)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ApiTokens::Table)
                    .col(
                        ColumnDef::new(ApiTokens::Id)
                            .string_len(36)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(ApiTokens::VendorId)
                            .string_len(36)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ApiTokens::Environment)
                            .string_len(8)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ApiTokens::TokenHash)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(ApiTokens::DisplayPrefix)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ApiTokens::CreatedAtMs)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(ApiTokens::RevokedAtMs).big_integer().null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_api_tokens_vendor")
                            .from(ApiTokens::Table, ApiTokens::VendorId)
                            .to(Vendors::Table, Vendors::Id),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Assets::Table)
                    .col(
                        ColumnDef::new(Assets::AssetId)
                            .big_integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Assets::Title).string_len(300).not_null())
                    .col(ColumnDef::new(Assets::Description).text().null())
                    .col(ColumnDef::new(Assets::Format).string_len(32).not_null())
                    .col(
                        ColumnDef::new(Assets::ContentType)
                            .string_len(128)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Assets::SizeBytes).big_integer().not_null())
                    .col(ColumnDef::new(Assets::Sha256).string_len(64).not_null())
                    .col(ColumnDef::new(Assets::Viewable).boolean().not_null())
                    .col(
                        ColumnDef::new(Assets::Countries)
                            .string_len(1024)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Assets::MinQty).integer().not_null())
                    .col(ColumnDef::new(Assets::FileName).string_len(300).not_null())
                    .col(ColumnDef::new(Assets::CreatedAtMs).big_integer().not_null())
                    .to_owned(),
            )
            .await
    }
}
