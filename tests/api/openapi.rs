//! The OpenAPI document: complete, and true to what the server answers —
//! checked by schemathesis (a third-party tool, PyPI) against the real server
//! with a vendor token and with an admin token; and the docs page works
//! offline in a real browser.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use assetgate::domain::Environment;
use reqwest::StatusCode;
use serde_json::Value;
use thirtyfour::prelude::*;

use crate::both_backends;
use crate::helpers::{AssetSpec, Backend, Browser, TestApp, eventually, spawn_app};

/// Every route of the API (method, path) — the console's HTML pages are not API.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/health"),
    ("get", "/metrics"),
    ("get", "/assets/list"),
    ("post", "/purchase/validate-purchase-before-payment"),
    ("post", "/purchase/register"),
    ("get", "/purchase/info"),
    ("get", "/purchase/download-url"),
    ("get", "/purchase/view-url"),
    ("delete", "/purchase/cancel"),
    ("post", "/purchase/cancel-batch"),
    ("get", "/purchase/list"),
    ("get", "/purchase/access-log"),
    ("get", "/access/{token}"),
    ("head", "/access/{token}"),
    ("get", "/webhooks"),
    ("post", "/webhooks"),
    ("delete", "/webhooks/{webhook_id}"),
    ("get", "/webhooks/{webhook_id}/deliveries"),
    ("post", "/webhooks/{webhook_id}/test"),
    ("get", "/admin/api/orders"),
    (
        "get",
        "/admin/api/orders/{vendor_id}/{environment}/{order_id}",
    ),
    (
        "post",
        "/admin/api/orders/{vendor_id}/{environment}/{order_id}/cancel",
    ),
    (
        "post",
        "/admin/api/orders/{vendor_id}/{environment}/{order_id}/lines/{order_line_id}/links",
    ),
    ("get", "/admin/api/vendors"),
    ("post", "/admin/api/vendors/{vendor_id}/suspend"),
    ("post", "/admin/api/vendors/{vendor_id}/activate"),
    ("get", "/admin/api/vendors/{vendor_id}/tokens"),
    ("post", "/admin/api/tokens/{token_id}/revoke"),
    ("get", "/admin/api/vendors/{vendor_id}/webhooks"),
    ("get", "/admin/api/webhooks/{webhook_id}/deliveries"),
    ("post", "/admin/api/deliveries/{delivery_id}/redeliver"),
    ("get", "/admin/api/overview"),
    ("get", "/admin/api/me"),
    ("post", "/webhooks/{webhook_id}/deliveries/{event_id}/retry"),
    ("get", "/admin/api/audit"),
    ("post", "/admin/api/assets"),
    ("get", "/admin/api/assets"),
    ("get", "/admin/api/assets/{asset_id}"),
    ("patch", "/admin/api/assets/{asset_id}"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_openapi_3_1_and_lists_every_route_with_its_errors() {
    let app = spawn_app(Backend::Sqlite).await;
    let res = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|k| ["get", "post", "put", "delete", "head", "patch"].contains(&k.as_str()))
                .map(move |m| (m.clone(), path.clone()))
        })
        .collect();
    let expected: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(documented, expected);

    let mut operation_ids = BTreeSet::new();
    for (method, path) in ROUTES {
        let op = &doc["paths"][path][method];
        assert!(
            operation_ids.insert(op["operationId"].as_str().unwrap().to_owned()),
            "operationIds are unique: {method} {path}"
        );
        let responses = op["responses"].as_object().unwrap();
        // Every error response is an ErrorResponse and names what it can carry.
        for (status, response) in responses {
            // Two answers of the HL contract carry a body of their own: a failed
            // health check lists the checks, an order whose lines all FAILED says so.
            let own = match (*method, *path, status.as_str()) {
                ("get", "/health", "503") => {
                    Some(&response["content"]["application/json"]["schema"]["items"]["$ref"])
                }
                ("get", "/purchase/info", "502") => {
                    Some(&response["content"]["application/json"]["schema"]["$ref"])
                }
                _ => None,
            };
            if let Some(schema) = own {
                assert!(
                    [
                        "#/components/schemas/HealthCheck",
                        "#/components/schemas/OrderPending"
                    ]
                    .contains(&schema.as_str().unwrap_or_default()),
                    "{method} {path} {status}: {schema}"
                );
            } else if status.starts_with('4') || status.starts_with('5') {
                let schema = &response["content"]["application/json"]["schema"]["$ref"];
                assert_eq!(
                    schema, "#/components/schemas/ErrorResponse",
                    "{method} {path} {status}"
                );
                assert!(
                    response["description"].as_str().unwrap().contains('`'),
                    "{method} {path} {status} names its error: {response}"
                );
            }
        }
        let authenticated = !["/health", "/access/{token}"].contains(path);
        if authenticated {
            assert!(
                responses.contains_key("401"),
                "{method} {path} documents 401"
            );
        }
        if path.starts_with("/purchase") || path.starts_with("/webhooks") || *path == "/assets/list"
        {
            assert!(
                responses.contains_key("429"),
                "{method} {path} documents 429"
            );
        }
    }
    for name in [
        "ErrorResponse",
        "OrderItem",
        "RegisterBody",
        "BatchAnswer",
        "WebhookItem",
        "DeliveryItem",
        "OrderDetailItem",
    ] {
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "schema {name}"
        );
    }
    assert!(doc["components"]["securitySchemes"]["vendor_token"].is_object());
    assert!(doc["components"]["securitySchemes"]["admin_token"].is_object());

    // Every `$ref` names a schema the document holds (typed answers refer to
    // their bodies by name, so a body left out of the components would dangle).
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(
        refs.len() > 50,
        "the document refers to its schemas: {}",
        refs.len()
    );
    for r in &refs {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{r} points into the components' schemas"));
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "{r} resolves"
        );
    }
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.push(r.clone());
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// The schemathesis CLI: `$SCHEMATHESIS`, or the one `scripts/test.sh` installs.
fn schemathesis() -> PathBuf {
    let path = std::env::var_os("SCHEMATHESIS").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/schemathesis"),
        PathBuf::from,
    );
    assert!(
        path.is_file(),
        "schemathesis is not installed at {}: run scripts/test.sh (it installs it into .venv) \
         or set SCHEMATHESIS",
        path.display()
    );
    path
}

/// Runs schemathesis against `app` with `token`, bounded (examples per
/// operation, a fixed seed); panics with its report unless it passes.
fn run_schemathesis(app: &TestApp, token: &str, only: Option<&str>) {
    let mut cmd = Command::new(schemathesis());
    cmd.arg("run")
        .arg(app.url("/openapi.json"))
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_headers_conformance,response_schema_conformance",
        ])
        .args(["--max-examples", "15", "--seed", "20261124"])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args([
            "--generation-database",
            "none",
            // One worker: hypothesis's lambda descriptions call ast.parse, which is not
            // thread-safe on Python 3.11 ("AST constructor recursion depth mismatch").
            "--workers",
            "1",
            "--no-color",
        ])
        .env("SCHEMATHESIS_HOOKS", "")
        .current_dir(app.dir.path());
    if let Some(regex) = only {
        cmd.args(["--include-path-regex", regex]);
    }
    let out = cmd.output().expect("schemathesis runs");
    let report = String::from_utf8_lossy(&out.stdout);
    let summary = report
        .lines()
        .find(|l| l.contains("generated,"))
        .unwrap_or("no summary");
    println!(
        "schemathesis ({}): {summary}",
        only.unwrap_or("all operations")
    );
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

both_backends!(schemathesis_finds_no_server_error_and_no_answer_outside_the_document);

async fn schemathesis_finds_no_server_error_and_no_answer_outside_the_document(backend: Backend) {
    let app = spawn_app(backend).await;
    // Something to find: an asset, a completed order, a webhook-free vendor.
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    app.completed_order(&vt.token, 1, &[(1, &asset)]).await;
    let admin = app.admin("contract").await;
    let (vendor, admin) = (vt.token.clone(), admin.clone());
    let app = std::sync::Arc::new(app);
    let runner = app.clone();
    tokio::task::spawn_blocking(move || {
        run_schemathesis(&runner, &vendor, None);
        run_schemathesis(&runner, &admin, Some("^/(admin/api|metrics)"));
    })
    .await
    .unwrap();
    // The server is still well afterwards.
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docs_page_renders_the_document_with_no_external_host() {
    let app = spawn_app(Backend::Sqlite).await;
    let res = app.client.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(res.headers()["location"], "/docs/");
    // The docs share the console's origin: no framing, no sniffing, only this
    // origin's scripts (the browser below shows the page still renders).
    let res = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    for directive in [
        "script-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");

    let browser = Browser::start().await;
    let d = &browser.driver;
    d.goto(app.url("/docs/")).await.unwrap();
    let title = eventually("the Swagger UI renders the document", || async {
        let found = d.find_all(By::Css(".swagger-ui .info .title")).await.ok()?;
        let text = found.first()?.text().await.ok()?;
        (!text.is_empty()).then_some(text)
    })
    .await;
    assert!(title.contains("assetgate"), "{title}");
    let operations = d.find_all(By::Css(".opblock")).await.unwrap();
    assert!(
        operations.len() >= ROUTES.len(),
        "{} operations shown",
        operations.len()
    );
    browser.screenshot("15-api-docs").await;
    let origin = app.address.clone();
    let foreign = browser
        .eval(&format!(
            "return performance.getEntriesByType('resource').map(e => e.name)\
             .filter(n => !n.startsWith('{origin}') && !n.startsWith('data:'))"
        ))
        .await;
    assert_eq!(
        foreign,
        serde_json::json!([]),
        "every asset from this server"
    );
    browser.driver.clone().quit().await.unwrap();
}
