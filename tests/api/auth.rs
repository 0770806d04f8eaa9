use assetgate::domain::{Environment, VendorStatus};
use reqwest::{Method, StatusCode};

use crate::both_backends;
use crate::helpers::{AssetSpec, Backend, assert_error, spawn_app};

both_backends!(
    every_bad_token_gets_401,
    suspended_vendor_gets_403_until_activated,
    authenticated_responses_carry_x_environment_and_request_id,
    a_sandbox_token_does_not_see_live_orders_nor_other_vendors,
);

async fn every_bad_token_gets_401(backend: Backend) {
    let app = spawn_app(backend).await;
    let vt = app.vendor(Environment::Live).await;
    let (record, secret) = app
        .store
        .create_token(vt.vendor, Environment::Live)
        .await
        .unwrap()
        .unwrap();
    let revoked = secrecy::ExposeSecret::expose_secret(&secret).to_owned();
    let record = app
        .store
        .revoke_token(record.token_id)
        .await
        .unwrap()
        .unwrap();
    assert!(record.revoked_at_ms.is_some());

    let cases: [(&str, Option<String>); 6] = [
        ("missing header", None),
        ("not bearer", Some(format!("Basic {}", vt.token))),
        ("empty bearer", Some("Bearer ".to_owned())),
        ("malformed token", Some("Bearer not-a-token".to_owned())),
        (
            "unknown token",
            Some(format!("Bearer agt_live_{}", "x".repeat(43))),
        ),
        ("revoked token", Some(format!("Bearer {revoked}"))),
    ];
    for (case, header) in cases {
        let mut req = app.client.get(app.url("/assets/list"));
        if let Some(h) = header {
            req = req.header("Authorization", h);
        }
        let res = req.send().await.unwrap();
        assert!(!res.headers().contains_key("x-environment"), "{case}");
        let body = assert_error(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
        assert_eq!(body["code"], 40101, "{case}");
    }
    // The valid token still works.
    assert_eq!(
        app.get("/assets/list", &vt.token).await.status(),
        StatusCode::OK
    );
}

async fn suspended_vendor_gets_403_until_activated(backend: Backend) {
    let app = spawn_app(backend).await;
    let vt = app.vendor(Environment::Live).await;

    app.set_vendor_status(vt.vendor, VendorStatus::Suspended)
        .await;
    assert_error(
        app.get("/assets/list", &vt.token).await,
        StatusCode::FORBIDDEN,
        "vendor_suspended",
    )
    .await;

    app.set_vendor_status(vt.vendor, VendorStatus::Active).await;
    assert_eq!(
        app.get("/assets/list", &vt.token).await.status(),
        StatusCode::OK
    );
}

async fn authenticated_responses_carry_x_environment_and_request_id(backend: Backend) {
    let app = spawn_app(backend).await;
    let live = app.vendor(Environment::Live).await;
    let sandbox = app.vendor(Environment::Sandbox).await;
    assert!(live.token.starts_with("agt_live_") && sandbox.token.starts_with("agt_test_"));

    let res = app.get("/assets/list", &live.token).await;
    assert_eq!(res.headers()["x-environment"], "LIVE");
    let res = app
        .request(Method::GET, "/assets/list", Some(&sandbox.token))
        .await
        .header("X-Request-Id", "shop-req-42")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-environment"], "SANDBOX");
    assert_eq!(res.headers()["x-request-id"], "shop-req-42");

    // An insane incoming id is replaced, not echoed.
    let res = app
        .request(Method::GET, "/health", None)
        .await
        .header("X-Request-Id", "bad id with spaces")
        .send()
        .await
        .unwrap();
    let id = res.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
}

async fn a_sandbox_token_does_not_see_live_orders_nor_other_vendors(backend: Backend) {
    let app = spawn_app(backend).await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let live = app.vendor(Environment::Live).await;
    let same_vendor_sandbox = app.token_for(live.vendor, Environment::Sandbox).await;
    let other_vendor = app.vendor(Environment::Live).await;
    let order = app.completed_order(&live.token, 5001, &[(1, &asset)]).await;
    let link = app.link(&live.token, order, 1).await;

    for (who, token) in [
        ("sandbox", &same_vendor_sandbox),
        ("other vendor", &other_vendor.token),
    ] {
        let body = assert_error(
            app.info(token, order).await,
            StatusCode::NOT_FOUND,
            "order_not_found",
        )
        .await;
        assert_eq!(body["details"]["order_id"], order, "{who}");
        assert_error(
            app.download_url(token, order, 1).await,
            StatusCode::NOT_FOUND,
            "order_not_found",
        )
        .await;
        assert_error(
            app.view_url(token, order, 1).await,
            StatusCode::NOT_FOUND,
            "order_not_found",
        )
        .await;
        assert_error(
            app.cancel(token, &format!("order_id={order}")).await,
            StatusCode::NOT_FOUND,
            "order_not_found",
        )
        .await;
    }
    // Nothing the others did touched the order.
    assert_eq!(
        app.client.get(&link).send().await.unwrap().status(),
        StatusCode::OK
    );
    // The sandbox may reuse the same order number independently.
    let res = app
        .register(
            &same_vendor_sandbox,
            &crate::helpers::register_body(order, 1, asset.asset_id, &[]),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
}

/// Failed logins are counted per client IP on every surface (vendor API,
/// admin API, console form); past the limit every attempt is refused with 429
/// before its token is checked — a right token included — and each failure
/// is logged and counted in /metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_throttled_per_client_and_counted() {
    let app = crate::helpers::spawn_app_with(
        Backend::Sqlite,
        crate::helpers::Options {
            tweak: |s| s.rate_limit.failed_logins_per_minute = 3,
            ..crate::helpers::Options::default()
        },
    )
    .await;
    let vt = app.vendor(Environment::Live).await;
    let admin = app.admin("Ann").await;
    // A right token does not count.
    assert_eq!(
        app.get("/assets/list", &vt.token).await.status(),
        StatusCode::OK
    );
    let wrong = "agt_live_0000000000000000000000000000000000000000000";
    assert_error(
        app.get("/assets/list", wrong).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_error(
        app.get("/admin/api/vendors", "agt_admin_00000000000000000000000000")
            .await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    // Each failure is counted by surface.
    let metrics = app.get("/metrics", &admin).await.text().await.unwrap();
    for surface in ["vendor_api", "admin_api"] {
        assert!(
            metrics.contains(&format!(
                "assetgate_failed_logins_total{{surface=\"{surface}\"}} 1"
            )),
            "{surface}: {metrics}"
        );
    }
    let res = app
        .client
        .post(app.url("/admin/login"))
        .form(&[("token", "agt_admin_wrong"), ("next", "/admin/")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // Three failures: now even the right tokens are refused, on every surface.
    let err = assert_error(
        app.get("/assets/list", &vt.token).await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    )
    .await;
    assert!(
        err["details"]["retry_after_seconds"].as_u64().unwrap() >= 1,
        "{err}"
    );
    let res = app.get("/admin/api/vendors", &admin).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
    let res = app
        .client
        .post(app.url("/admin/login"))
        .form(&[("token", admin.as_str()), ("next", "/admin/")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        res.headers().get("set-cookie").is_none(),
        "no session was opened"
    );
    assert!(res.text().await.unwrap().contains("Too many failed logins"));
}

/// A CR/LF in the login's `next` cannot become a header: the login
/// succeeds and returns to the console's home.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_with_a_line_break_in_next_goes_home() {
    let app = spawn_app(Backend::Sqlite).await;
    let admin = app.admin("Ann").await;
    let res = app
        .client
        .post(app.url("/admin/login"))
        .form(&[
            ("token", admin.as_str()),
            ("next", "/admin/\r\nSet-Cookie: injected=1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/admin/");
    let cookies: Vec<_> = res.headers().get_all("set-cookie").iter().collect();
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    assert!(!cookies[0].to_str().unwrap().contains("injected"));
}
