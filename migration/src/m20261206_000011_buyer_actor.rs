//! Accesses are the buyer's doing (SPEC §7: actor `buyer`), not the
//! gateway's: earlier access events said `system`.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LineEvents {
    Table,
    Kind,
    Actor,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        set_access_actor(manager, "system", "buyer").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        set_access_actor(manager, "buyer", "system").await
    }
}

async fn set_access_actor(manager: &SchemaManager<'_>, from: &str, to: &str) -> Result<(), DbErr> {
    let update = Query::update()
        .table(LineEvents::Table)
        .value(LineEvents::Actor, to)
        .and_where(Expr::col(LineEvents::Kind).eq("access"))
        .and_where(Expr::col(LineEvents::Actor).eq(from))
        .to_owned();
    manager.exec_stmt(update).await
}
