//! Vendor integration: webhook endpoints, the event outbox (written in the
//! same transaction as the change it reports), deliveries with their leases
//! and every attempt; why a line was canceled as data (`cancel_reason_code`);
//! and an index for the vendor's own order list (newest first).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OrderLines {
    Table,
    Id,
    VendorId,
    Environment,
    CreatedAtMs,
    CancelReasonCode,
}

#[derive(DeriveIden)]
enum Webhooks {
    Table,
    Id,
    VendorId,
    Environment,
    Url,
    Events,
    Description,
    Secret,
    Status,
    CreatedAtMs,
    FailingSinceMs,
    DisabledReason,
}

#[derive(DeriveIden)]
enum WebhookEvents {
    Table,
    Id,
    VendorId,
    Environment,
    Kind,
    Payload,
    CreatedAtMs,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    EventId,
    WebhookId,
    State,
    Attempts,
    NextAttemptAtMs,
    LastStatus,
    LastError,
    ClaimUntilMs,
    ClaimedBy,
    CreatedAtMs,
    FinishedAtMs,
}

#[derive(DeriveIden)]
enum WebhookAttempts {
    Table,
    Id,
    DeliveryId,
    AtMs,
    Status,
    Error,
    DurationMs,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(OrderLines::Table)
                    .add_column(
                        ColumnDef::new(OrderLines::CancelReasonCode)
                            .string_len(16)
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Webhooks::Table)
                    .col(ColumnDef::new(Webhooks::Id).string_len(36).not_null().primary_key())
                    .col(ColumnDef::new(Webhooks::VendorId).string_len(36).not_null())
                    .col(ColumnDef::new(Webhooks::Environment).string_len(8).not_null())
                    .col(ColumnDef::new(Webhooks::Url).text().not_null())
                    .col(ColumnDef::new(Webhooks::Events).text().not_null())
                    .col(ColumnDef::new(Webhooks::Description).text().null())
                    .col(ColumnDef::new(Webhooks::Secret).string_len(64).not_null())
                    .col(ColumnDef::new(Webhooks::Status).string_len(16).not_null())
                    .col(ColumnDef::new(Webhooks::CreatedAtMs).big_integer().not_null())
                    .col(ColumnDef::new(Webhooks::FailingSinceMs).big_integer().null())
                    .col(ColumnDef::new(Webhooks::DisabledReason).text().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookEvents::Table)
                    .col(ColumnDef::new(WebhookEvents::Id).string_len(40).not_null().primary_key())
                    .col(ColumnDef::new(WebhookEvents::VendorId).string_len(36).not_null())
                    .col(ColumnDef::new(WebhookEvents::Environment).string_len(8).not_null())
                    .col(ColumnDef::new(WebhookEvents::Kind).string_len(40).not_null())
                    .col(ColumnDef::new(WebhookEvents::Payload).text().not_null())
                    .col(ColumnDef::new(WebhookEvents::CreatedAtMs).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .col(
                        ColumnDef::new(WebhookDeliveries::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(WebhookDeliveries::EventId).string_len(40).not_null())
                    .col(ColumnDef::new(WebhookDeliveries::WebhookId).string_len(36).not_null())
                    .col(ColumnDef::new(WebhookDeliveries::State).string_len(16).not_null())
                    .col(ColumnDef::new(WebhookDeliveries::Attempts).integer().not_null())
                    .col(ColumnDef::new(WebhookDeliveries::NextAttemptAtMs).big_integer().not_null())
                    .col(ColumnDef::new(WebhookDeliveries::LastStatus).integer().null())
                    .col(ColumnDef::new(WebhookDeliveries::LastError).text().null())
                    .col(ColumnDef::new(WebhookDeliveries::ClaimUntilMs).big_integer().null())
                    .col(ColumnDef::new(WebhookDeliveries::ClaimedBy).string_len(64).null())
                    .col(ColumnDef::new(WebhookDeliveries::CreatedAtMs).big_integer().not_null())
                    .col(ColumnDef::new(WebhookDeliveries::FinishedAtMs).big_integer().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookAttempts::Table)
                    .col(
                        ColumnDef::new(WebhookAttempts::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(WebhookAttempts::DeliveryId).big_integer().not_null())
                    .col(ColumnDef::new(WebhookAttempts::AtMs).big_integer().not_null())
                    .col(ColumnDef::new(WebhookAttempts::Status).integer().null())
                    .col(ColumnDef::new(WebhookAttempts::Error).text().null())
                    .col(ColumnDef::new(WebhookAttempts::DurationMs).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        let indexes = [
            Index::create()
                .name("ix_webhooks_tenant")
                .table(Webhooks::Table)
                .col(Webhooks::VendorId)
                .col(Webhooks::Environment)
                .to_owned(),
            // The delivery worker: what is due, and what is first in line per endpoint.
            Index::create()
                .name("ix_webhook_deliveries_due")
                .table(WebhookDeliveries::Table)
                .col(WebhookDeliveries::State)
                .col(WebhookDeliveries::NextAttemptAtMs)
                .to_owned(),
            Index::create()
                .name("ix_webhook_deliveries_endpoint")
                .table(WebhookDeliveries::Table)
                .col(WebhookDeliveries::WebhookId)
                .col(WebhookDeliveries::Id)
                .to_owned(),
            Index::create()
                .name("ix_webhook_attempts_delivery")
                .table(WebhookAttempts::Table)
                .col(WebhookAttempts::DeliveryId)
                .to_owned(),
            // GET /purchase/list: a tenant's lines, newest first.
            Index::create()
                .name("ix_order_lines_tenant_created")
                .table(OrderLines::Table)
                .col(OrderLines::VendorId)
                .col(OrderLines::Environment)
                .col(OrderLines::CreatedAtMs)
                .col(OrderLines::Id)
                .to_owned(),
        ];
        for index in indexes {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_order_lines_tenant_created")
                    .table(OrderLines::Table)
                    .to_owned(),
            )
            .await?;
        for table in [
            WebhookAttempts::Table.into_iden(),
            WebhookDeliveries::Table.into_iden(),
            WebhookEvents::Table.into_iden(),
            Webhooks::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(OrderLines::Table)
                    .drop_column(OrderLines::CancelReasonCode)
                    .to_owned(),
            )
            .await
    }
}
