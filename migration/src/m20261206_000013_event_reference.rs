//! The request id of a refused download (the "Reference" on the buyer's
//! error page), indexed so support can search for it in the console.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LineEvents {
    Table,
    RequestId,
}

const INDEX: &str = "idx_line_events_request_id";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(LineEvents::Table)
                    .add_column(ColumnDef::new(LineEvents::RequestId).string_len(128).null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(LineEvents::Table)
                    .col(LineEvents::RequestId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(INDEX)
                    .table(LineEvents::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(LineEvents::Table)
                    .drop_column(LineEvents::RequestId)
                    .to_owned(),
            )
            .await
    }
}
