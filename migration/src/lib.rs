//! The one set of migrations, run on SQLite and PostgreSQL alike.
//!
//! Timestamps are stored as unix milliseconds (`BIGINT`) so that comparisons
//! (leases, expiries, revocation windows) behave identically on both backends.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_create_catalogue;
mod m20261122_000002_create_orders;
mod m20261124_000003_index_revocations;
mod m20261124_000004_actors;
mod m20261124_000005_operators;
mod m20261124_000006_webhooks;
mod m20261205_000007_audit_actors;
mod m20261205_000008_asset_status;
mod m20261206_000009_admin_roles;
mod m20261206_000010_unordered_deliveries;
mod m20261206_000011_buyer_actor;
mod m20261206_000012_links_until;
mod m20261206_000013_event_reference;
mod m20261206_000014_stamping;
mod m20261206_000015_access_window;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_catalogue::Migration),
            Box::new(m20261122_000002_create_orders::Migration),
            Box::new(m20261124_000003_index_revocations::Migration),
            Box::new(m20261124_000004_actors::Migration),
            Box::new(m20261124_000005_operators::Migration),
            Box::new(m20261124_000006_webhooks::Migration),
            Box::new(m20261205_000007_audit_actors::Migration),
            Box::new(m20261205_000008_asset_status::Migration),
            Box::new(m20261206_000009_admin_roles::Migration),
            Box::new(m20261206_000010_unordered_deliveries::Migration),
            Box::new(m20261206_000011_buyer_actor::Migration),
            Box::new(m20261206_000012_links_until::Migration),
            Box::new(m20261206_000013_event_reference::Migration),
            Box::new(m20261206_000014_stamping::Migration),
            Box::new(m20261206_000015_access_window::Migration),
        ]
    }
}
