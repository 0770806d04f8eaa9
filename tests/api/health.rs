use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, spawn_app};

both_backends!(health_reports_every_component_healthy);

async fn health_reports_every_component_healthy(backend: Backend) {
    let app = spawn_app(backend).await;

    let res = app.client.get(app.url("/health")).send().await.unwrap();

    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().contains_key("x-request-id"));
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body,
        json!([
            {"name": "database", "health": true},
            {"name": "revocation_store", "health": true},
            {"name": "storage", "health": true},
            {"name": "fulfilment", "health": true},
        ])
    );
}

both_backends!(health_answers_503_with_the_list_when_storage_is_gone);

async fn health_answers_503_with_the_list_when_storage_is_gone(backend: Backend) {
    let app = spawn_app(backend).await;
    std::fs::remove_dir_all(&app.settings.storage.path).unwrap();

    let res = app.client.get(app.url("/health")).send().await.unwrap();

    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body[2], json!({"name": "storage", "health": false}));
    assert_eq!(body[0], json!({"name": "database", "health": true}));
}

both_backends!(a_fulfilment_worker_failing_every_pass_turns_health_red_until_it_recovers);

async fn a_fulfilment_worker_failing_every_pass_turns_health_red_until_it_recovers(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let health = || async {
        let res = app.client.get(app.url("/health")).send().await.unwrap();
        let status = res.status();
        let body: Value = res.json().await.unwrap();
        let fulfilment = body
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "fulfilment")
            .map(|c| c["health"] == true);
        (status, fulfilment)
    };
    assert_eq!(health().await, (StatusCode::OK, Some(true)));

    // Every claim query now fails (as when the instance name did not fit its column).
    app.execute_sql("ALTER TABLE order_lines RENAME COLUMN claim_until_ms TO claim_until_gone")
        .await;
    crate::helpers::eventually("fulfilment reported failing", || async {
        (health().await == (StatusCode::SERVICE_UNAVAILABLE, Some(false))).then_some(())
    })
    .await;

    app.execute_sql("ALTER TABLE order_lines RENAME COLUMN claim_until_gone TO claim_until_ms")
        .await;
    crate::helpers::eventually("fulfilment recovered", || async {
        (health().await == (StatusCode::OK, Some(true))).then_some(())
    })
    .await;
}
