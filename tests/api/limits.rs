//! Rate limits: per vendor token on the API, per client IP on `/access`, and
//! who is believed about the client's address.

use std::time::Duration;

use assetgate::config::Settings;
use assetgate::domain::Environment;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{AssetSpec, Backend, Options, assert_error, spawn_app_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_above_the_vendor_limit_gets_429_and_other_vendors_do_not_notice() {
    fn limited(s: &mut Settings) {
        s.rate_limit.vendor_per_second = 5;
        s.rate_limit.vendor_burst = 10;
    }
    let app = spawn_app_with(
        Backend::Sqlite,
        Options {
            tweak: limited,
            ..Options::default()
        },
    )
    .await;
    let noisy = app.vendor(Environment::Live).await;
    let calm = app.vendor(Environment::Live).await;

    let mut ok = 0;
    let mut limited_answer = None;
    for _ in 0..30 {
        let res = app.get("/assets/list", &noisy.token).await;
        match res.status() {
            StatusCode::OK => ok += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                limited_answer.get_or_insert(res);
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(
        (10..=12).contains(&ok),
        "the burst of 10 (and what refilled meanwhile) passes: {ok}"
    );
    let res = limited_answer.expect("a 429 past the burst");
    let retry_after: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    let err = assert_error(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert_eq!(err["details"]["limit_per_second"], 5);
    assert!(err["message"].as_str().unwrap().contains("Retry after"));

    // Another vendor, at the same moment: unaffected.
    for _ in 0..10 {
        assert_eq!(
            app.get("/assets/list", &calm.token).await.status(),
            StatusCode::OK
        );
    }
    // Within the limit (4/s against 5/s), after the bucket refilled: never a 429.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for _ in 0..12 {
        assert_eq!(
            app.get("/assets/list", &noisy.token).await.status(),
            StatusCode::OK
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_is_limited_per_client_ip_and_x_forwarded_for_counts_only_from_trusted_proxies() {
    fn per_ip(s: &mut Settings) {
        s.rate_limit.access_per_ip_per_second = 2;
        s.rate_limit.access_per_ip_burst = 4;
    }
    let app = spawn_app_with(
        Backend::Sqlite,
        Options {
            tweak: per_ip,
            ..Options::default()
        },
    )
    .await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    app.completed_order(&vt.token, 1, &[(1, &asset)]).await;
    let link = app.link(&vt.token, 1, 1).await;
    let get = |xff: Option<&'static str>| {
        let mut req = app.client.get(&link).header("Range", "bytes=0-9");
        if let Some(xff) = xff {
            req = req.header("X-Forwarded-For", xff);
        }
        async move { req.send().await.unwrap() }
    };

    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(get(None).await.status());
    }
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::PARTIAL_CONTENT)
            .count(),
        4,
        "the burst: {statuses:?}"
    );
    let res = get(None).await;
    assert!(res.headers().contains_key("retry-after"));
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // The peer is not a trusted proxy: its X-Forwarded-For is ignored.
    assert_eq!(
        get(Some("203.0.113.5")).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );

    // Behind a trusted proxy each client has its own allowance.
    fn behind_proxy(s: &mut Settings) {
        per_ip(s);
        s.server.trusted_proxies = "127.0.0.0/8, ::1".into();
    }
    let proxied = spawn_app_with(
        Backend::Sqlite,
        Options {
            tweak: behind_proxy,
            ..Options::default()
        },
    )
    .await;
    let asset = proxied.add_asset(AssetSpec::default()).await;
    let vt = proxied.vendor(Environment::Live).await;
    proxied.completed_order(&vt.token, 1, &[(1, &asset)]).await;
    let link = proxied.link(&vt.token, 1, 1).await;
    let get = |xff: &'static str| {
        let req = proxied
            .client
            .get(&link)
            .header("Range", "bytes=0-9")
            .header("X-Forwarded-For", xff);
        async move { req.send().await.unwrap().status() }
    };
    for _ in 0..4 {
        assert_eq!(get("198.51.100.1").await, StatusCode::PARTIAL_CONTENT);
    }
    assert_eq!(get("198.51.100.1").await, StatusCode::TOO_MANY_REQUESTS);
    // A spoofed first hop does not help: the last untrusted hop is the client.
    assert_eq!(
        get("1.2.3.4, 198.51.100.1").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(get("198.51.100.2").await, StatusCode::PARTIAL_CONTENT);

    // The history records the client, not the proxy.
    let admin = proxied.admin("ops").await;
    let ips = crate::helpers::eventually("the accesses are recorded", || async {
        let detail: Value = proxied
            .get(&format!("/admin/api/orders/{}/LIVE/1", vt.vendor), &admin)
            .await
            .json()
            .await
            .unwrap();
        let ips: Vec<String> = detail["history"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "access")
            .filter_map(|e| e["details"]["ip"].as_str().map(str::to_owned))
            .collect();
        (ips.len() >= 5).then_some(ips)
    })
    .await;
    assert!(ips.iter().any(|ip| ip == "198.51.100.2"), "{ips:?}");
    assert!(!ips.iter().any(|ip| ip.starts_with("127.")), "{ips:?}");
}
