//! Indexes for the revocation maintainer's queries, which every instance runs
//! twice a second: the outbox (`revocation_pending`) and the rebuild
//! (`revoke_until_ms > now`). Without them both scan every canceled line ever,
//! a cost that grows with the deployment's age instead of with recent cancels.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OrderLines {
    Table,
    RevocationPending,
    RevokeUntilMs,
}

const PENDING: &str = "ix_order_lines_revocation_pending";
const UNTIL: &str = "ix_order_lines_revoke_until";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, column) in [
            (PENDING, OrderLines::RevocationPending),
            (UNTIL, OrderLines::RevokeUntilMs),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(OrderLines::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in [PENDING, UNTIL] {
            manager
                .drop_index(Index::drop().name(name).table(OrderLines::Table).to_owned())
                .await?;
        }
        Ok(())
    }
}
