//! `GET /metrics`: the series of SPEC §10, counted exactly, with route
//! patterns (never a token) as labels, behind an admin token.

use assetgate::config::Settings;
use assetgate::domain::Environment;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{
    AssetSpec, Backend, Options, TestApp, assert_error, spawn_app, spawn_app_with,
};

/// The value of the sample `name{labels}` (labels as rendered, in order).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn scrape(app: &TestApp, token: &str) -> String {
    let res = app.get("/metrics", token).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    res.text().await.unwrap()
}

/// A link for the same line, correctly signed, expired 10 s ago.
async fn expired_version(app: &TestApp, link: &str) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let token = link.rsplit('/').next().unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let header: Value = serde_json::from_slice(&b64.decode(parts[0]).unwrap()).unwrap();
    let mut claims: Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
    let now = chrono::Utc::now().timestamp();
    claims["iat"] = json!(now - 100);
    claims["exp"] = json!(now - 10);
    let mut h = Header::new(Algorithm::HS256);
    h.kid = header["kid"].as_str().map(str::to_owned);
    let key = app.signing_key().await;
    let expired = jsonwebtoken::encode(&h, &claims, &EncodingKey::from_secret(&key)).unwrap();
    link.replacen(token, &expired, 1)
}

both_backends!(downloads_are_counted_once_by_result_with_their_bytes);

async fn downloads_are_counted_once_by_result_with_their_bytes(backend: Backend) {
    let app = spawn_app(backend).await;
    let asset = app
        .add_asset(AssetSpec {
            bytes: crate::helpers::sample_pdf(5000),
            ..AssetSpec::default()
        })
        .await;
    let vt = app.vendor(Environment::Live).await;
    let admin = app.admin("ops").await;
    app.completed_order(&vt.token, 1, &[(1, &asset), (2, &asset)])
        .await;
    let served = app.link(&vt.token, 1, 1).await;
    let revoked = app.link(&vt.token, 1, 2).await;
    let expired = expired_version(&app, &served).await;
    assert_eq!(
        app.cancel(&vt.token, "order_id=1&order_line_id=2")
            .await
            .status(),
        StatusCode::CREATED
    );

    assert_eq!(
        app.client
            .get(&served)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .len(),
        5000
    );
    assert_error(
        app.client.get(&revoked).send().await.unwrap(),
        StatusCode::FORBIDDEN,
        "access_revoked",
    )
    .await;
    assert_error(
        app.client.get(&expired).send().await.unwrap(),
        StatusCode::GONE,
        "link_expired",
    )
    .await;

    let text = scrape(&app, &admin).await;
    for (result, n) in [
        ("served", 1.0),
        ("revoked", 1.0),
        ("expired", 1.0),
        ("invalid", 0.0),
        ("unavailable", 0.0),
    ] {
        let got = sample(
            &text,
            &format!("assetgate_access_total{{result=\"{result}\"}}"),
        );
        assert_eq!(got, Some(n), "{result} in\n{text}");
    }
    assert_eq!(
        sample(&text, "assetgate_access_bytes_total"),
        Some(5000.0),
        "{text}"
    );
    for series in [
        "assetgate_http_requests_total{route=\"/access/{token}\",method=\"GET\",status=\"200\"}",
        "assetgate_http_requests_total{route=\"/access/{token}\",method=\"GET\",status=\"403\"}",
        "assetgate_http_requests_total{route=\"/access/{token}\",method=\"GET\",status=\"410\"}",
        "assetgate_http_requests_total{route=\"/purchase/cancel\",method=\"DELETE\",status=\"201\"}",
    ] {
        assert_eq!(sample(&text, series), Some(1.0), "{series} in\n{text}");
    }
    assert_eq!(
        sample(&text, "assetgate_access_duration_seconds_count"),
        Some(3.0),
        "the /access latency histogram: {text}"
    );
    assert!(
        text.contains("assetgate_access_duration_seconds_bucket{le=\"+Inf\"} 3"),
        "{text}"
    );
    assert!(
        text.contains("assetgate_http_request_duration_seconds_bucket{route=\"/purchase/cancel\""),
        "a latency histogram by route: {text}"
    );
    assert!(
        sample(&text, "assetgate_revocation_check_duration_seconds_count")
            .is_some_and(|n| n >= 2.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "assetgate_revocation_store_complete"),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "assetgate_revocation_outbox_depth"),
        Some(0.0)
    );
    assert_eq!(sample(&text, "assetgate_fulfilment_queue_depth"), Some(0.0));
    assert_eq!(
        sample(&text, "assetgate_history_dropped_events_total"),
        Some(0.0)
    );
    // No token, no raw path in any label.
    assert!(
        !text.contains("/access/ey"),
        "a token became a label:\n{text}"
    );
    assert!(!text.contains(served.rsplit('/').next().unwrap()));

    // Credentials: none, malformed, a vendor's → 401 JSON.
    for token in ["", "x", "Bearer", vt.token.as_str()] {
        let res = app
            .client
            .get(app.url("/metrics"))
            .header("Authorization", format!("Bearer {token}"))
            .send()
            .await
            .unwrap();
        assert_error(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_metrics_need_no_token_and_disabled_metrics_are_not_served() {
    fn public(s: &mut Settings) {
        s.metrics.public = true;
    }
    let app = spawn_app_with(
        Backend::Sqlite,
        Options {
            tweak: public,
            ..Options::default()
        },
    )
    .await;
    let res = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("assetgate_"));

    fn disabled(s: &mut Settings) {
        s.metrics.enabled = false;
    }
    let off = spawn_app_with(
        Backend::Sqlite,
        Options {
            tweak: disabled,
            ..Options::default()
        },
    )
    .await;
    let admin = off.admin("ops").await;
    assert_error(
        off.get("/metrics", &admin).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}
