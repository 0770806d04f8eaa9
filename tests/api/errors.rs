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
    contract_slips_answer_as_documented,
    a_slow_body_times_out_with_408_json,
    range_headers_follow_rfc_9110,
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
        (Method::GET, "/purchase/cancel-batch", "POST"),
        (Method::POST, "/purchase/list", "GET"),
        (Method::DELETE, "/webhooks", "GET, POST"),
        (Method::GET, "/webhooks/abc", "DELETE"),
        (Method::GET, "/webhooks/abc/test", "POST"),
        (Method::POST, "/webhooks/abc/deliveries", "GET"),
        (Method::GET, "/admin/api/deliveries/1/redeliver", "POST"),
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
        ("/purchase/cancel-batch", "{not json", "body"),
        ("/purchase/cancel-batch", "[1]", "body"),
        ("/purchase/cancel-batch", r#"{"lines": "all"}"#, "lines"),
        ("/webhooks", "{not json", "body"),
        ("/webhooks", r#"{"url": 5}"#, "url"),
        (
            "/webhooks",
            r#"{"url": "https://example.com", "events": "all"}"#,
            "events",
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
    for path in ["/purchase/cancel-batch", "/webhooks"] {
        let huge = format!(r#"{{"reason":"{}"}}"#, "x".repeat(200_000));
        let res = app
            .request(Method::POST, path, Some(&vt.token))
            .await
            .header("content-type", "application/json")
            .body(huge)
            .send()
            .await
            .unwrap();
        assert_error(res, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    }
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

async fn contract_slips_answer_as_documented(backend: Backend) {
    let app = spawn_app(backend).await;
    let vt = app.vendor(Environment::Live).await;

    // Trailing garbage after the JSON object.
    let res = app
        .request(
            Method::POST,
            "/purchase/validate-purchase-before-payment",
            Some(&vt.token),
        )
        .await
        .header("content-type", "application/json")
        .body(r#"{"asset_id": 1, "customer_ip": "203.0.113.9", "quantity": 1}xyz"#)
        .send()
        .await
        .unwrap();
    let body = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_request").await;
    assert_eq!(body["details"]["field"], "body");

    // A repeated query parameter names itself.
    let res = app
        .get("/purchase/info?order_id=1&order_id=2", &vt.token)
        .await;
    let body = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_request").await;
    assert_eq!(body["details"]["field"], "order_id");

    // 401 says which scheme to use.
    let res = app
        .client
        .get(app.url("/assets/list"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer realm=\"assetgate\"")
    );
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

async fn a_slow_body_times_out_with_408_json(backend: Backend) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let app = crate::helpers::spawn_app_with(
        backend,
        crate::helpers::Options {
            tweak: |s| s.server.body_timeout_ms = 300,
            ..Default::default()
        },
    )
    .await;
    let vt = app.vendor(Environment::Live).await;
    let addr = app.address.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /purchase/register HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{",
        vt.token
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // One more byte well inside the limit, then nothing: a stalled client.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    stream.write_all(b" ").await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stream.read_to_end(&mut answer),
    )
    .await
    .expect("the server answers and closes instead of waiting forever")
    .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"name\":\"request_timeout\""), "{answer}");
    assert!(answer.contains("\"limit_ms\":300"), "{answer}");
}

async fn range_headers_follow_rfc_9110(backend: Backend) {
    let app = spawn_app(backend).await;
    let asset = app.add_asset(crate::helpers::AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    app.completed_order(&vt.token, 1, &[(1, &asset)]).await;
    let link = app.link(&vt.token, 1, 1).await;
    let get = |range: &'static str| {
        let req = app.client.get(&link).header("Range", range);
        async move { req.send().await.unwrap() }
    };

    // Malformed: ignored, the whole file.
    for range in [
        "bytes=abc",
        "bytes=1-1-1",
        "bytes=99999999999999999999999-",
        "bytes=5-1",
    ] {
        let res = get(range).await;
        assert_eq!(res.status(), StatusCode::OK, "{range}");
        assert_eq!(res.bytes().await.unwrap().len(), 1000, "{range}");
    }
    // Well-formed but past the end: 416, as ErrorResponse JSON.
    let res = get("bytes=5000-").await;
    assert_eq!(res.headers()["content-range"], "bytes */1000");
    let body = assert_error(
        res,
        StatusCode::RANGE_NOT_SATISFIABLE,
        "range_not_satisfiable",
    )
    .await;
    assert_eq!(body["details"]["size_bytes"], 1000);
    // Satisfiable: 206.
    let res = get("bytes=-10").await;
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(res.headers()["content-range"], "bytes 990-999/1000");
}
