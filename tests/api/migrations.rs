//! Migrations run on data written by earlier versions, on both backends.

use migration::{Migrator, MigratorTrait as _};
use sea_orm::{ConnectionTrait as _, Database, Statement};

use crate::both_backends;
use crate::helpers::{Backend, EmptyDatabase};

both_backends!(the_actor_migration_backfills_rows_written_before_it);

async fn the_actor_migration_backfills_rows_written_before_it(backend: Backend) {
    let empty = EmptyDatabase::create(backend).await;
    let db = Database::connect(&empty.url).await.unwrap();
    // The schema as the third migration left it, with rows in the old shape.
    Migrator::up(&db, Some(3)).await.unwrap();
    let token = "3f0c7a8e-8d0e-4a59-9b1f-0d5c1e2a7b61";
    let vendor = "9a4d2a1c-5b6e-4f70-8a91-b2c3d4e5f607";
    for sql in [
        format!(
            "INSERT INTO order_lines (vendor_id, environment, order_number, order_line_id, asset_id, \
             customer, unit_price, line_item_price, quantity, status, created_at_ms, updated_at_ms, \
             canceled_at_ms, cancel_reason, canceled_by_token, revoke_until_ms, revocation_pending, \
             fulfil_attempts) VALUES ('{vendor}', 'LIVE', 1, 1, 1, 'Ann', 1.0, 1.0, 1, 'CANCELED', \
             1, 2, 2, 'Refund', '{token}', 3, FALSE, 1)"
        ),
        format!(
            "INSERT INTO line_events (line_id, kind, at_ms, data) VALUES \
             (1, 'registered', 1, '{{\"token_id\":\"{token}\",\"validated\":false}}'), \
             (1, 'fulfilled', 1, '{{}}'), \
             (1, 'canceled', 2, '{{\"reason\":\"Refund\",\"token_id\":\"{token}\"}}')"
        ),
        format!(
            "INSERT INTO idempotency_keys (vendor_id, environment, key, request_hash, response_status, \
             response_body, created_at_ms) VALUES ('{vendor}', 'LIVE', 'a', 'h', 503, '{{}}', 1), \
             ('{vendor}', 'LIVE', 'b', 'h', 201, '[]', 1)"
        ),
    ] {
        db.execute_unprepared(&sql).await.unwrap();
    }

    Migrator::up(&db, None).await.unwrap();

    let query = |sql: &str| {
        let db = &db;
        let stmt = Statement::from_string(db.get_database_backend(), sql.to_owned());
        async move { db.query_all_raw(stmt).await.unwrap() }
    };
    let actors: Vec<String> = query("SELECT actor FROM line_events ORDER BY id")
        .await
        .iter()
        .map(|r| r.try_get::<String>("", "actor").unwrap())
        .collect();
    assert_eq!(
        actors,
        [
            format!("vendor:{token}"),
            "system".to_owned(),
            format!("vendor:{token}")
        ]
    );
    let canceled_by: Vec<String> = query("SELECT canceled_by FROM order_lines")
        .await
        .iter()
        .map(|r| r.try_get::<String>("", "canceled_by").unwrap())
        .collect();
    assert_eq!(canceled_by, [format!("vendor:{token}")]);
    let resumable: Vec<bool> = query("SELECT resumable FROM idempotency_keys ORDER BY key")
        .await
        .iter()
        .map(|r| r.try_get::<bool>("", "resumable").unwrap())
        .collect();
    assert_eq!(resumable, [true, false], "only the stored 503 is resumable");
}

both_backends!(the_audit_actor_migration_keeps_old_entries_and_ids_go_on);

async fn the_audit_actor_migration_keeps_old_entries_and_ids_go_on(backend: Backend) {
    let empty = EmptyDatabase::create(backend).await;
    let db = Database::connect(&empty.url).await.unwrap();
    Migrator::up(&db, Some(6)).await.unwrap();
    let admin = "0b9e1f5e-2a3c-4d5e-8f60-718293a4b5c6";
    db.execute_unprepared(&format!(
        "INSERT INTO admin_audit (at_ms, admin_id, admin_name, action, target, details) VALUES \
         (1, '{admin}', 'Ann Support', 'vendor_suspend', 'vendor x', '{{}}'), \
         (2, '{admin}', 'Ann Support', 'cancel', 'order x', '{{}}')"
    ))
    .await
    .unwrap();

    Migrator::up(&db, None).await.unwrap();
    // A new entry, without an operator, continues the ids.
    db.execute_unprepared(
        "INSERT INTO admin_audit (at_ms, actor, action, target, details) VALUES \
         (3, 'cli:root', 'vendor_create', 'vendor y', '{}')",
    )
    .await
    .unwrap();
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT id, actor, admin_id, action FROM admin_audit ORDER BY id".to_owned(),
        ))
        .await
        .unwrap();
    let seen: Vec<(i64, String, Option<String>, String)> = rows
        .iter()
        .map(|r| {
            (
                r.try_get("", "id").unwrap(),
                r.try_get("", "actor").unwrap(),
                r.try_get("", "admin_id").unwrap(),
                r.try_get("", "action").unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (
                1,
                "operator:Ann Support".to_owned(),
                Some(admin.to_owned()),
                "vendor_suspend".to_owned()
            ),
            (
                2,
                "operator:Ann Support".to_owned(),
                Some(admin.to_owned()),
                "cancel".to_owned()
            ),
            (3, "cli:root".to_owned(), None, "vendor_create".to_owned()),
        ]
    );
}

both_backends!(the_asset_status_migration_keeps_old_assets_on_sale_and_unverified);

async fn the_asset_status_migration_keeps_old_assets_on_sale_and_unverified(backend: Backend) {
    let empty = EmptyDatabase::create(backend).await;
    let db = Database::connect(&empty.url).await.unwrap();
    Migrator::up(&db, Some(7)).await.unwrap();
    db.execute_unprepared(&format!(
        "INSERT INTO assets (asset_id, title, format, content_type, size_bytes, sha256, \
         viewable, countries, min_qty, file_name, created_at_ms) VALUES \
         (1, 'Old', 'PDF', 'application/pdf', 10, '{}', FALSE, '', 1, 'Old.pdf', 1)",
        "a".repeat(64)
    ))
    .await
    .unwrap();

    Migrator::up(&db, None).await.unwrap();
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT status, file_state, file_checked_at_ms FROM assets".to_owned(),
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<String>("", "status").unwrap(), "ACTIVE");
    assert_eq!(
        row.try_get::<String>("", "file_state").unwrap(),
        "unchecked"
    );
    assert_eq!(
        row.try_get::<Option<i64>>("", "file_checked_at_ms")
            .unwrap(),
        None
    );
    Migrator::down(&db, Some(1)).await.unwrap();
    Migrator::up(&db, None).await.unwrap();
}
