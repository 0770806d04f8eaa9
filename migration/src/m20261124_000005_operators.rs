//! Operators: admin identities, console sessions and the audit log of their
//! changes; an `orders` table (one row per order) so that order search across
//! vendors is an indexed lookup, not an aggregation of every line; and hourly
//! access counts per result (the overview's "last 24 h", including links that
//! name no line, such as invalid ones).
//!
//! On PostgreSQL, customer substring search (`ILIKE '%…%'`) is served by a
//! trigram GIN index when the `pg_trgm` extension can be created; where it
//! cannot (no privilege), search still works, by scanning.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Admins {
    Table,
    Id,
    Name,
    TokenHash,
    DisplayPrefix,
    CreatedAtMs,
    RevokedAtMs,
}

#[derive(DeriveIden)]
enum AdminSessions {
    Table,
    IdHash,
    AdminId,
    Csrf,
    CreatedAtMs,
    ExpiresAtMs,
}

#[derive(DeriveIden)]
enum AdminAudit {
    Table,
    Id,
    AtMs,
    AdminId,
    AdminName,
    Action,
    Target,
    Details,
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    Id,
    VendorId,
    Environment,
    OrderNumber,
    Customer,
    CreatedAtMs,
}

#[derive(DeriveIden)]
enum LineEvents {
    Table,
    Kind,
    AtMs,
}

#[derive(DeriveIden)]
enum AccessCounts {
    Table,
    HourMs,
    Result,
    Count,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Admins::Table)
                    .col(
                        ColumnDef::new(Admins::Id)
                            .string_len(36)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Admins::Name)
                            .string_len(100)
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(Admins::TokenHash)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(Admins::DisplayPrefix)
                            .string_len(24)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Admins::CreatedAtMs).big_integer().not_null())
                    .col(ColumnDef::new(Admins::RevokedAtMs).big_integer().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AdminSessions::Table)
                    .col(
                        ColumnDef::new(AdminSessions::IdHash)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(AdminSessions::AdminId)
                            .string_len(36)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AdminSessions::Csrf)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AdminSessions::CreatedAtMs)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AdminSessions::ExpiresAtMs)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AdminAudit::Table)
                    .col(
                        ColumnDef::new(AdminAudit::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(AdminAudit::AtMs).big_integer().not_null())
                    .col(
                        ColumnDef::new(AdminAudit::AdminId)
                            .string_len(36)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AdminAudit::AdminName)
                            .string_len(100)
                            .not_null(),
                    )
                    .col(ColumnDef::new(AdminAudit::Action).string_len(32).not_null())
                    .col(
                        ColumnDef::new(AdminAudit::Target)
                            .string_len(200)
                            .not_null(),
                    )
                    .col(ColumnDef::new(AdminAudit::Details).text().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Orders::Table)
                    .col(
                        ColumnDef::new(Orders::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Orders::VendorId).string_len(36).not_null())
                    .col(ColumnDef::new(Orders::Environment).string_len(8).not_null())
                    .col(ColumnDef::new(Orders::OrderNumber).big_integer().not_null())
                    .col(ColumnDef::new(Orders::Customer).string_len(200).not_null())
                    .col(ColumnDef::new(Orders::CreatedAtMs).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AccessCounts::Table)
                    .col(
                        ColumnDef::new(AccessCounts::HourMs)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AccessCounts::Result)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(ColumnDef::new(AccessCounts::Count).big_integer().not_null())
                    .primary_key(
                        Index::create()
                            .col(AccessCounts::HourMs)
                            .col(AccessCounts::Result),
                    )
                    .to_owned(),
            )
            .await?;

        let indexes = [
            Index::create()
                .name("ux_orders_identity")
                .table(Orders::Table)
                .col(Orders::VendorId)
                .col(Orders::Environment)
                .col(Orders::OrderNumber)
                .unique()
                .to_owned(),
            // Newest first, keyset by (created, id).
            Index::create()
                .name("ix_orders_created")
                .table(Orders::Table)
                .col(Orders::CreatedAtMs)
                .col(Orders::Id)
                .to_owned(),
            Index::create()
                .name("ix_orders_number")
                .table(Orders::Table)
                .col(Orders::OrderNumber)
                .to_owned(),
            Index::create()
                .name("ix_admin_sessions_expiry")
                .table(AdminSessions::Table)
                .col(AdminSessions::ExpiresAtMs)
                .to_owned(),
            // The retention purge of old access events.
            Index::create()
                .name("ix_line_events_kind_at")
                .table(LineEvents::Table)
                .col(LineEvents::Kind)
                .col(LineEvents::AtMs)
                .to_owned(),
        ];
        for index in indexes {
            manager.create_index(index).await?;
        }

        let db = manager.get_connection();
        // One row per order that already has lines.
        db.execute_unprepared(
            "INSERT INTO orders (vendor_id, environment, order_number, customer, created_at_ms) \
             SELECT vendor_id, environment, order_number, MIN(customer), MIN(created_at_ms) \
             FROM order_lines GROUP BY vendor_id, environment, order_number",
        )
        .await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared(
                "DO $$ BEGIN \
                   CREATE EXTENSION IF NOT EXISTS pg_trgm; \
                 EXCEPTION WHEN OTHERS THEN \
                   RAISE NOTICE 'pg_trgm unavailable: customer search will scan'; \
                 END $$",
            )
            .await?;
            db.execute_unprepared(
                "DO $$ BEGIN \
                   IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN \
                     CREATE INDEX IF NOT EXISTS ix_orders_customer_trgm \
                       ON orders USING gin (customer gin_trgm_ops); \
                   END IF; \
                 END $$",
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_line_events_kind_at")
                    .table(LineEvents::Table)
                    .to_owned(),
            )
            .await?;
        for table in [
            AccessCounts::Table.into_iden(),
            Orders::Table.into_iden(),
            AdminAudit::Table.into_iden(),
            AdminSessions::Table.into_iden(),
            Admins::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
