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
