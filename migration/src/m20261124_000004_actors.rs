//! Every recorded change names its actor (`vendor:<token id>`, `operator:<name>`,
//! `system`): history events get an `actor` column, order lines a `canceled_by`
//! (replacing `canceled_by_token`, which could only name a vendor token), and an
//! idempotency key records explicitly that its stored answer is *resumable*
//! (a cancel committed whose revocation could not be confirmed).
//!
//! Rows written before this migration are backfilled from what they carried:
//! `registered` and `canceled` events named their token in `data.token_id`.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LineEvents {
    Table,
    Actor,
}

#[derive(DeriveIden)]
enum OrderLines {
    Table,
    CanceledBy,
    CanceledByToken,
}

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    Resumable,
}

/// Longest actor label: `operator:` plus an admin name of at most 100 characters.
const ACTOR_LEN: u32 = 120;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite takes one change per ALTER TABLE.
        manager
            .alter_table(
                Table::alter()
                    .table(LineEvents::Table)
                    .add_column(
                        ColumnDef::new(LineEvents::Actor)
                            .string_len(ACTOR_LEN)
                            .not_null()
                            .default("system"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(OrderLines::Table)
                    .add_column(
                        ColumnDef::new(OrderLines::CanceledBy)
                            .string_len(ACTOR_LEN)
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(IdempotencyKeys::Table)
                    .add_column(
                        ColumnDef::new(IdempotencyKeys::Resumable)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .to_owned(),
            )
            .await?;

        let token_of_event = match manager.get_database_backend() {
            DbBackend::Postgres => "(data::json ->> 'token_id')",
            _ => "json_extract(data, '$.token_id')",
        };
        let db = manager.get_connection();
        db.execute_unprepared(&format!(
            "UPDATE line_events SET actor = 'vendor:' || {token_of_event} \
             WHERE kind IN ('registered', 'canceled') AND {token_of_event} IS NOT NULL"
        ))
        .await?;
        db.execute_unprepared(
            "UPDATE order_lines SET canceled_by = 'vendor:' || canceled_by_token \
             WHERE canceled_by_token IS NOT NULL",
        )
        .await?;
        db.execute_unprepared(
            "UPDATE idempotency_keys SET resumable = TRUE WHERE response_status = 503",
        )
        .await?;

        manager
            .alter_table(
                Table::alter()
                    .table(OrderLines::Table)
                    .drop_column(OrderLines::CanceledByToken)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(OrderLines::Table)
                    .add_column(
                        ColumnDef::new(OrderLines::CanceledByToken)
                            .string_len(36)
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE order_lines SET canceled_by_token = substr(canceled_by, 8) \
                 WHERE canceled_by LIKE 'vendor:%'",
            )
            .await?;
        for (table, column) in [
            (
                OrderLines::Table.into_iden(),
                OrderLines::CanceledBy.into_iden(),
            ),
            (LineEvents::Table.into_iden(), LineEvents::Actor.into_iden()),
            (
                IdempotencyKeys::Table.into_iden(),
                IdempotencyKeys::Resumable.into_iden(),
            ),
        ] {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
