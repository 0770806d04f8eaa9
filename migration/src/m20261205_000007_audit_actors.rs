//! The audit log names every actor, not only operators: changes made with
//! the CLI are written as `cli:<os user>` (SPEC §7: "every change"). The
//! table gets an `actor` column (`operator:<name>` or `cli:<user>`) and its
//! `admin_id` becomes optional (a CLI change has no operator). SQLite cannot
//! drop a NOT NULL, so the table is rebuilt and its rows copied, on both
//! backends alike (the old one renamed aside, a new one created, the rows
//! copied, the old dropped); `actor` of the old rows is `operator:` + their
//! admin name.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AdminAudit {
    Table,
    Id,
    AtMs,
    Actor,
    AdminId,
    AdminName,
    Action,
    Target,
    Details,
}

#[derive(DeriveIden)]
enum AdminAuditOld {
    Table,
}

/// `operator:` or `cli:` and a name of at most 100 characters.
const ACTOR_LEN: u32 = 120;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .rename_table(
                Table::rename()
                    .table(AdminAudit::Table, AdminAuditOld::Table)
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
                        ColumnDef::new(AdminAudit::Actor)
                            .string_len(ACTOR_LEN)
                            .not_null(),
                    )
                    .col(ColumnDef::new(AdminAudit::AdminId).string_len(36).null())
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
        let db = manager.get_connection();
        db.execute_unprepared(
            "INSERT INTO admin_audit (id, at_ms, actor, admin_id, action, target, details) \
             SELECT id, at_ms, 'operator:' || admin_name, admin_id, action, target, details \
             FROM admin_audit_old",
        )
        .await?;
        manager
            .drop_table(Table::drop().table(AdminAuditOld::Table).to_owned())
            .await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            // The copied ids were given explicitly: the sequence goes on after them.
            db.execute_unprepared(
                "SELECT setval(pg_get_serial_sequence('admin_audit', 'id'), \
                 COALESCE((SELECT MAX(id) FROM admin_audit), 0) + 1, false)",
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Back to operators only: entries by other actors cannot be kept.
        let db = manager.get_connection();
        db.execute_unprepared("DELETE FROM admin_audit WHERE admin_id IS NULL")
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AdminAudit::Table)
                    .add_column(
                        ColumnDef::new(AdminAudit::AdminName)
                            .string_len(100)
                            .not_null()
                            .default(""),
                    )
                    .to_owned(),
            )
            .await?;
        db.execute_unprepared(
            "UPDATE admin_audit SET admin_name = substr(actor, 10) WHERE actor LIKE 'operator:%'",
        )
        .await?;
        Ok(())
    }
}
