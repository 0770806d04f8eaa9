//! Every error class answers as `ErrorResponse` JSON.

use assetgate::domain::Environment;
use reqwest::{Method, StatusCode};

use crate::both_backends;
use crate::helpers::{Backend, assert_error, spawn_app};

both_backends!(
    unknown_routes_answer_404_json,
    wrong_methods_answer_405_json_with_allow,
    malformed_json_and_wrong_types_answer_422_naming_the_field,
    oversized_bodies_answer_413,
    panics_answer_500_without_internals,
);

async fn unknown_routes_answer_404_json(backend: Backend) {
    let app = spawn_app(backend).await;
    for path in ["/nope", "/purchase", "/access", "/assets/list/extra"] {
        let res = app.client.get(app.url(path)).send().await.unwrap();
        assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    }
}

async fn wrong_methods_answer_405_json_with_allow(backend: Backend) {
    let app = spawn_app(backend).await;
    let vt = app.vendor(Environment::Live).await;
    for (method, path, allowed) in [
        (Method::POST, "/health", "GET"),
        (Method::DELETE, "/assets/list", "GET"),
        (Method::GET, "/purchase/register", "POST"),
        (Method::PUT, "/purchase/cancel", "DELETE"),
        (Method::POST, "/purchase/info", "GET"),
        (Method::POST, "/access/abc", "GET, HEAD"),
    ] {
        let res = app
            .request(method.clone(), path, Some(&vt.token))
            .await
            .send()
            .await
            .unwrap();
        assert_eq!(res.headers()["allow"], allowed, "{method} {path}");
        let body = assert_error(res, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
        assert_eq!(body["details"]["allowed"], allowed);
    }
}

async fn malformed_json_and_wrong_types_answer_422_naming_the_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let vt = app.vendor(Environment::Live).await;
    let cases = [
        ("/purchase/register", "{not json", "body"),
        ("/purchase/register", "", "body"),
        ("/purchase/register", "[1,2]", "body"),
        (
            "/purchase/register",
            r#"{"asset_id":1,"order_number":"abc","order_line_id":1,"unit_price":1,"line_item_price":1,"customer":"A"}"#,
            "order_number",
        ),
        (
            "/purchase/register",
            r#"{"asset_id":1,"order_line_id":1,"unit_price":1,"line_item_price":1,"customer":"A"}"#,
            "order_number",
        ),
        (
            "/purchase/register",
            r#"{"asset_id":1,"order_number":1,"order_line_id":1,"unit_price":1,"line_item_price":1,"customer":"A","parts":[{"asset_id":"x","order_line_id":2}]}"#,
            "parts[0].asset_id",
        ),
        (
            "/purchase/validate-purchase-before-payment",
            r#"{"asset_id":true,"customer_ip":"1.2.3.4","quantity":1}"#,
            "asset_id",
        ),
        (
            "/purchase/validate-purchase-before-payment",
            r#"{"asset_id":1,"quantity":1}"#,
            "customer_ip",
        ),
    ];
    for (path, body, field) in cases {
        let res = app
            .request(Method::POST, path, Some(&vt.token))
            .await
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let err = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_request").await;
        assert_eq!(err["details"]["field"], field, "{path} {body}");
    }
    for query in [
        "order_id=abc",
        "order_id=",
        "",
        "order_id=1&order_line_id=x",
    ] {
        let res = app
            .get(&format!("/purchase/download-url?{query}"), &vt.token)
            .await;
        assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_request").await;
    }
}

async fn oversized_bodies_answer_413(backend: Backend) {
    let app = spawn_app(backend).await;
    let vt = app.vendor(Environment::Live).await;
    let huge = format!(r#"{{"customer":"{}"}}"#, "x".repeat(200_000));

    let res = app
        .request(Method::POST, "/purchase/register", Some(&vt.token))
        .await
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();

    let body = assert_error(res, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    assert_eq!(body["details"]["limit_bytes"], 65536);
    // The server is still fine afterwards.
    assert_eq!(
        app.get("/assets/list", &vt.token).await.status(),
        StatusCode::OK
    );
}

async fn panics_answer_500_without_internals(backend: Backend) {
    let app = spawn_app(backend).await;

    let res = app
        .client
        .get(app.url("/__test/panic"))
        .send()
        .await
        .unwrap();

    let body = assert_error(res, StatusCode::INTERNAL_SERVER_ERROR, "internal_error").await;
    let text = body.to_string();
    assert!(!text.contains("panic") && !text.contains(".rs"), "{text}");
    // The worker survived.
    assert_eq!(
        app.client
            .get(app.url("/health"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}
