//! The operators' API (`/admin/api/…`, SPEC §7), on both backends.

use std::collections::HashSet;

use assetgate::domain::{Environment, Role, VendorStatus};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{
    AssetSpec, Backend, Options, TestApp, assert_error, eventually, register_body, spawn_app,
    spawn_app_with, start_instance,
};

both_backends!(
    admin_routes_take_admin_tokens_only_and_vendor_routes_vendor_tokens_only,
    search_finds_orders_by_number_customer_vendor_status_and_date_and_pages_through_all,
    order_detail_shows_lines_revocation_state_and_every_history_kind_with_its_actor,
    operator_cancel_revokes_on_every_instance_and_is_audited,
    a_reissued_link_serves_and_a_canceled_line_gets_none,
    suspend_activate_and_token_revoke_take_effect_at_once_and_are_audited,
    bad_input_on_admin_routes_answers_error_response_json,
    ip_addresses_are_truncated_and_old_access_events_purged,
    access_history_batches_are_stored_whole_or_not_at_all,
    roles_limit_what_each_operator_may_change_and_a_refusal_changes_nothing,
    canceled_lines_say_who_canceled_and_when_in_every_api,
    an_expired_link_is_recorded_against_its_line_and_a_forged_one_against_none,
    a_week_long_reissued_link_stays_revoked_for_its_whole_life,
    polling_records_a_lines_link_once_per_half_lifetime_and_asked_for_links_always,
);

async fn json(res: reqwest::Response) -> Value {
    let status = res.status();
    let text = res.text().await.unwrap();
    assert!(status.is_success(), "{status}: {text}");
    serde_json::from_str(&text).unwrap()
}

async fn admin_routes_take_admin_tokens_only_and_vendor_routes_vendor_tokens_only(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let vt = app.vendor(Environment::Live).await;
    let admin = app.admin("Ann Support").await;
    let retired = app.admin("Old Timer").await;
    let admins = app.store.list_admins().await.unwrap();
    let old = admins
        .iter()
        .find(|a| a.name.as_str() == "Old Timer")
        .unwrap();
    app.store.revoke_admin(old.admin_id).await.unwrap();

    let overview = |token: Option<&str>| {
        let req = app.client.get(app.url("/admin/api/overview"));
        let req = match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        async move { req.send().await.unwrap() }
    };
    assert_error(
        overview(None).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_error(
        overview(Some(&vt.token)).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_error(
        overview(Some(&retired)).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_eq!(overview(Some(&admin)).await.status(), StatusCode::OK);
    // And the other way round: an admin token is no vendor token.
    assert_error(
        app.get("/assets/list", &admin).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
}

/// Registers `order` for `customer` with one line of `asset`.
async fn order(app: &TestApp, token: &str, order: i64, customer: &str) {
    let asset = app.add_asset(AssetSpec::default()).await;
    let mut body = register_body(order, 1, asset.asset_id, &[]);
    body["customer"] = json!(customer);
    let res = app.register(token, &body).await;
    assert_eq!(res.status(), StatusCode::CREATED);
}

async fn search_finds_orders_by_number_customer_vendor_status_and_date_and_pages_through_all(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let admin = app.admin("Ann Support").await;
    let shop_a = app.vendor(Environment::Live).await;
    let shop_b = app.vendor(Environment::Sandbox).await;
    for (i, customer) in ["Ann Buyer", "Bob Byrd", "ANNA Karlsson", "Carl Dahl"]
        .iter()
        .enumerate()
    {
        order(&app, &shop_a.token, 100 + i as i64, customer).await;
    }
    order(&app, &shop_b.token, 100, "Ann Other").await;
    app.wait_for_order(&shop_a.token, 100).await;
    assert_eq!(
        app.cancel(&shop_a.token, "order_id=101").await.status(),
        StatusCode::CREATED
    );

    let search = |query: String| {
        let app = &app;
        let admin = admin.clone();
        async move { json(app.get(&format!("/admin/api/orders?{query}"), &admin).await).await }
    };
    let numbers = |v: &Value| -> Vec<(String, i64)> {
        v["orders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                (
                    o["customer"].as_str().unwrap().to_owned(),
                    o["order_id"].as_i64().unwrap(),
                )
            })
            .collect()
    };

    // Order number: across vendors.
    let by_number = search("q=100".into()).await;
    assert_eq!(by_number["orders"].as_array().unwrap().len(), 2);
    // As people write it: `#100` (URL-encoded `%23`).
    let by_hash = search("q=%23100".into()).await;
    assert_eq!(by_hash["orders"], by_number["orders"], "{by_hash}");
    // Customer substring, case-insensitive, newest first.
    let by_name = search("q=ann".into()).await;
    assert_eq!(
        numbers(&by_name),
        [
            ("Ann Other".to_owned(), 100),
            ("ANNA Karlsson".to_owned(), 102),
            ("Ann Buyer".to_owned(), 100)
        ]
    );
    let first = &by_name["orders"][0];
    assert_eq!(first["vendor_id"], shop_b.vendor.to_string());
    assert_eq!(first["vendor_name"], "Test Shop");
    assert_eq!(first["environment"], "SANDBOX");
    assert_eq!(first["lines"], 1);
    // Pattern characters are matched as themselves.
    assert!(
        search("q=_".into()).await["orders"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        search("q=%25".into()).await["orders"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // Vendor and environment.
    let by_vendor = search(format!("vendor_id={}&q=ann", shop_a.vendor)).await;
    assert_eq!(by_vendor["orders"].as_array().unwrap().len(), 2);
    assert_eq!(
        search("environment=SANDBOX".into()).await["orders"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Status: the one canceled order.
    let canceled = search("status=canceled".into()).await;
    assert_eq!(numbers(&canceled), [("Bob Byrd".to_owned(), 101)]);
    assert_eq!(canceled["orders"][0]["statuses"], json!({"CANCELED": 1}));
    // Dates: nothing before 2020, everything since.
    assert!(
        search("created_to=2020-01-01".into()).await["orders"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        search("created_from=2020-01-01T00:00:00Z".into()).await["orders"]
            .as_array()
            .unwrap()
            .len(),
        5
    );

    // Pagination: pages of 2 cover the five orders exactly once.
    let mut seen = HashSet::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let page = search(format!("page_size=2&cursor={cursor}")).await;
        pages += 1;
        for o in page["orders"].as_array().unwrap() {
            let key = format!("{}/{}/{}", o["vendor_id"], o["environment"], o["order_id"]);
            assert!(seen.insert(key), "an order on two pages");
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    assert_eq!((seen.len(), pages), (5, 3));
}

async fn order_detail_shows_lines_revocation_state_and_every_history_kind_with_its_actor(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let admin = app.admin("Ann Support").await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let broken = app
        .add_asset(AssetSpec {
            title: "Broken",
            bytes: b"%PDF-1.4 broken".to_vec(),
            ..AssetSpec::default()
        })
        .await;
    std::fs::remove_file(app.asset_path(&broken)).unwrap();
    let vt = app.vendor(Environment::Live).await;
    let res = app
        .register(
            &vt.token,
            &register_body(
                7,
                1,
                asset.asset_id,
                &[json!({"asset_id": broken.asset_id, "order_line_id": 2})],
            ),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    app.wait_for_order(&vt.token, 7).await;
    let link = app.link(&vt.token, 7, 1).await;
    let res = app
        .client
        .get(&link)
        .header("Range", "bytes=0-3")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    let path = format!("/admin/api/orders/{}/LIVE/7", vt.vendor);
    let res = app
        .post_json(
            &format!("{path}/cancel"),
            &admin,
            &json!({"order_line_id": 1, "reason": "Chargeback"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);

    let detail = eventually("the access is in the history", || async {
        let d = json(app.get(&path, &admin).await).await;
        d["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "access")
            .then_some(d)
    })
    .await;
    assert_eq!(detail["order_id"], 7);
    assert_eq!(detail["environment"], "LIVE");
    let lines = detail["lines"].as_array().unwrap();
    assert_eq!(lines[0]["status"], "CANCELED");
    assert_eq!(lines[0]["cancel_reason"], "Chargeback");
    assert_eq!(lines[0]["canceled_by"], "operator");
    assert!(lines[0]["canceled_at"].is_string(), "{detail}");
    assert_eq!(lines[1]["canceled_by"], Value::Null);
    assert_eq!(lines[0]["revocation"]["revoked"], true, "{detail}");
    assert_eq!(lines[0]["revocation"]["pending"], false);
    assert!(lines[0]["revocation"]["until"].is_string());
    assert_eq!(lines[1]["status"], "FAILED");
    assert_eq!(lines[1]["revocation"]["revoked"], false);

    let history = detail["history"].as_array().unwrap();
    let find = |kind: &str| {
        history
            .iter()
            .find(|e| e["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind}: {detail}"))
    };
    let vendor_actor = find("registered")["actor"].as_str().unwrap().to_owned();
    assert!(vendor_actor.starts_with("vendor:"), "{vendor_actor}");
    assert_eq!(find("fulfilled")["actor"], "system");
    assert_eq!(
        find("canceled")["details"]["webhook_event"],
        Value::Null,
        "no endpoint, so no event: {detail}"
    );
    assert_eq!(find("failed")["actor"], "system");
    assert_eq!(find("failed")["order_line_id"], 2);
    assert_eq!(find("link_issued")["actor"], vendor_actor);
    assert_eq!(find("fulfilled")["actor_label"], "assetgate");
    let vendor_label = find("registered")["actor_label"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        vendor_label.starts_with(&format!(
            "{} (API token agt_",
            detail["vendor_name"].as_str().unwrap()
        )),
        "the vendor's name and its token's prefix: {vendor_label}"
    );
    assert_eq!(find("canceled")["actor_label"], "Ann Support (operator)");
    let access = find("access");
    assert_eq!(access["actor"], "buyer");
    assert_eq!(access["actor_label"], "buyer at 127.0.0.1");
    assert_eq!(access["order_line_id"], 1);
    for (key, value) in [
        ("action", json!("download")),
        ("method", json!("GET")),
        ("status", json!(206)),
        ("result", json!("served")),
        ("range", json!("bytes=0-3")),
        ("ip", json!("127.0.0.1")),
    ] {
        assert_eq!(access["details"][key], value, "{key}");
    }
    let canceled = find("canceled");
    assert_eq!(canceled["actor"], "operator:Ann Support");
    assert_eq!(canceled["details"]["reason"], "Chargeback");
    // Newest first; a short page says where the next one starts.
    let at = |e: &Value| chrono::DateTime::parse_from_rfc3339(e["at"].as_str().unwrap()).unwrap();
    assert!(history.windows(2).all(|w| at(&w[0]) >= at(&w[1])));
    let page = json(app.get(&format!("{path}?history_limit=2"), &admin).await).await;
    assert_eq!(page["history"].as_array().unwrap().len(), 2);
    let next = page["history_next"].as_str().unwrap();
    let rest = json(
        app.get(
            &format!(
                "{path}?history_limit=1000&history_before={}",
                urlencode(next)
            ),
            &admin,
        )
        .await,
    )
    .await;
    assert!(!rest["history"].as_array().unwrap().is_empty());
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn operator_cancel_revokes_on_every_instance_and_is_audited(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin("Ann Support").await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    app.completed_order(&vt.token, 5, &[(1, &asset), (2, &asset)])
        .await;
    let link = app.link(&vt.token, 5, 1).await;
    // The other instance (PostgreSQL + Redis: a fleet; SQLite: this one).
    let other = match backend {
        Backend::Postgres => start_instance(&app.settings).await,
        Backend::Sqlite => app.address.clone(),
    };
    let on_other = link.replacen(&app.address, &other, 1);
    assert_eq!(
        app.client.get(&on_other).send().await.unwrap().status(),
        StatusCode::OK
    );

    let res = app
        .post_json(
            &format!("/admin/api/orders/{}/LIVE/5/cancel", vt.vendor),
            &admin,
            &json!({"order_line_id": 1, "reason": "Customer asked"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["lines"][0]["status"], "CANCELED");
    assert_eq!(body["lines"][1]["status"], "COMPLETED");
    // The very next request, on the other instance: refused.
    assert_error(
        app.client.get(&on_other).send().await.unwrap(),
        StatusCode::FORBIDDEN,
        "access_revoked",
    )
    .await;
    // Same errors as the vendor cancel.
    let again = app
        .post_json(
            &format!("/admin/api/orders/{}/LIVE/5/cancel", vt.vendor),
            &admin,
            &json!({"order_line_id": 1, "reason": "Twice"}),
        )
        .await;
    assert_error(
        again,
        StatusCode::UNPROCESSABLE_ENTITY,
        "order_not_cancelable",
    )
    .await;
    let audit = json(app.get("/admin/api/audit", &admin).await).await;
    let entry = &audit["entries"][0];
    assert_eq!(entry["admin"], "Ann Support");
    assert_eq!(entry["action"], "cancel");
    assert_eq!(
        entry["target"],
        format!("order {} LIVE 5 line 1", vt.vendor)
    );
    assert_eq!(entry["details"]["reason"], "Customer asked");
}

async fn a_reissued_link_serves_and_a_canceled_line_gets_none(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin("Ann Support").await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    app.completed_order(&vt.token, 8, &[(1, &asset), (2, &asset)])
        .await;
    let path = format!("/admin/api/orders/{}/LIVE/8", vt.vendor);
    let link = json(
        app.post_json(
            &format!("{path}/lines/2/links"),
            &admin,
            &json!({"action": "view"}),
        )
        .await,
    )
    .await;
    let res = app
        .client
        .get(link["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("inline")
    );
    assert!(link["expires_at"].is_string());

    assert_eq!(
        app.cancel(&vt.token, "order_id=8&order_line_id=1")
            .await
            .status(),
        StatusCode::CREATED
    );
    let res = app
        .post_json(
            &format!("{path}/lines/1/links"),
            &admin,
            &json!({"action": "download"}),
        )
        .await;
    let body = assert_error(
        res,
        StatusCode::UNPROCESSABLE_ENTITY,
        "order_not_accessible",
    )
    .await;
    assert_eq!(body["details"]["current_status"], "CANCELED");

    let detail = json(app.get(&path, &admin).await).await;
    let issued = detail["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "link_issued" && e["actor"] == "operator:Ann Support")
        .expect("the reissue is in the history");
    assert_eq!(issued["details"]["via"], "operator");
    let audit = json(app.get("/admin/api/audit", &admin).await).await;
    assert_eq!(audit["entries"][0]["action"], "link_reissue");
}

async fn suspend_activate_and_token_revoke_take_effect_at_once_and_are_audited(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin("Ann Support").await;
    let vt = app.vendor(Environment::Live).await;
    let base = format!("/admin/api/vendors/{}", vt.vendor);

    let vendors = json(app.get("/admin/api/vendors", &admin).await).await;
    assert_eq!(vendors["vendors"][0]["tokens"], 1);
    let suspended = json(
        app.post_json(&format!("{base}/suspend"), &admin, &json!({}))
            .await,
    )
    .await;
    assert_eq!(suspended["status"], "SUSPENDED");
    assert_error(
        app.get("/assets/list", &vt.token).await,
        StatusCode::FORBIDDEN,
        "vendor_suspended",
    )
    .await;
    let active = json(
        app.post_json(&format!("{base}/activate"), &admin, &json!({}))
            .await,
    )
    .await;
    assert_eq!(active["status"], "ACTIVE");
    assert_eq!(
        app.get("/assets/list", &vt.token).await.status(),
        StatusCode::OK
    );

    let tokens = json(app.get(&format!("{base}/tokens"), &admin).await).await;
    let token = &tokens["tokens"][0];
    assert!(token.get("token").is_none() && token.get("token_hash").is_none());
    assert!(vt.token.starts_with(token["prefix"].as_str().unwrap()));
    let revoked = json(
        app.post_json(
            &format!(
                "/admin/api/tokens/{}/revoke",
                token["token_id"].as_str().unwrap()
            ),
            &admin,
            &json!({}),
        )
        .await,
    )
    .await;
    assert!(revoked["revoked_at"].is_string());
    assert_error(
        app.get("/assets/list", &vt.token).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;

    let audit = json(app.get("/admin/api/audit?page_size=2", &admin).await).await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["token_revoke", "vendor_activate"]);
    let older = json(
        app.get(
            &format!(
                "/admin/api/audit?page_size=2&cursor={}",
                audit["next_cursor"].as_str().unwrap()
            ),
            &admin,
        )
        .await,
    )
    .await;
    assert_eq!(older["entries"][0]["action"], "vendor_suspend");
    assert!(older["next_cursor"].is_null());
    let _ = VendorStatus::Active;
}

async fn bad_input_on_admin_routes_answers_error_response_json(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin("Ann Support").await;
    let vt = app.vendor(Environment::Live).await;
    let unknown_vendor = uuid::Uuid::new_v4();
    for (path, status, name, field) in [
        (
            "/admin/api/orders?status=SHIPPED",
            422,
            "invalid_request",
            Some("status"),
        ),
        (
            "/admin/api/orders?environment=PROD",
            422,
            "invalid_request",
            Some("environment"),
        ),
        (
            "/admin/api/orders?vendor_id=nope",
            422,
            "invalid_request",
            Some("vendor_id"),
        ),
        (
            "/admin/api/orders?created_from=yesterday",
            422,
            "invalid_request",
            Some("created_from"),
        ),
        (
            "/admin/api/orders?cursor=garbage",
            422,
            "invalid_request",
            Some("cursor"),
        ),
        (
            "/admin/api/orders?page_size=0",
            422,
            "invalid_request",
            Some("page_size"),
        ),
        (
            "/admin/api/orders/not-a-uuid/LIVE/1",
            422,
            "invalid_request",
            Some("vendor_id"),
        ),
        (
            "/admin/api/orders/00000000-0000-0000-0000-000000000000/PROD/1",
            422,
            "invalid_request",
            Some("environment"),
        ),
        (
            "/admin/api/audit?cursor=%%%",
            422,
            "invalid_request",
            Some("cursor"),
        ),
    ] {
        let body = assert_error(
            app.get(path, &admin).await,
            StatusCode::from_u16(status).unwrap(),
            name,
        )
        .await;
        assert_eq!(body["details"]["field"].as_str(), field, "{path}");
    }
    for (path, name) in [
        (
            format!("/admin/api/orders/{}/LIVE/1", vt.vendor),
            "order_not_found",
        ),
        (
            format!("/admin/api/orders/{unknown_vendor}/LIVE/1"),
            "order_not_found",
        ),
        (
            format!("/admin/api/vendors/{unknown_vendor}/tokens"),
            "vendor_not_found",
        ),
    ] {
        assert_error(app.get(&path, &admin).await, StatusCode::NOT_FOUND, name).await;
    }
    for (path, body, status, name) in [
        (
            format!("/admin/api/orders/{}/LIVE/1/cancel", vt.vendor),
            json!({"reason": "x".repeat(501)}),
            422,
            "invalid_request",
        ),
        (
            format!("/admin/api/orders/{}/LIVE/1/cancel", vt.vendor),
            json!({"reason": "  "}),
            422,
            "invalid_request",
        ),
        (
            format!("/admin/api/orders/{}/LIVE/1/cancel", vt.vendor),
            json!({"order_line_id": "one", "reason": "r"}),
            422,
            "invalid_request",
        ),
        (
            format!("/admin/api/orders/{}/LIVE/1/cancel", vt.vendor),
            json!({"reason": "Refund"}),
            404,
            "order_not_found",
        ),
        (
            format!("/admin/api/orders/{}/LIVE/1/lines/1/links", vt.vendor),
            json!({"action": "print"}),
            422,
            "invalid_request",
        ),
        (
            format!("/admin/api/vendors/{unknown_vendor}/suspend"),
            json!({}),
            404,
            "vendor_not_found",
        ),
        (
            format!("/admin/api/tokens/{unknown_vendor}/revoke"),
            json!({}),
            404,
            "token_not_found",
        ),
    ] {
        assert_error(
            app.post_json(&path, &admin, &body).await,
            StatusCode::from_u16(status).unwrap(),
            name,
        )
        .await;
    }
    let res = app
        .request(Method::DELETE, "/admin/api/overview", Some(&admin))
        .await
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
}

async fn ip_addresses_are_truncated_and_old_access_events_purged(backend: Backend) {
    let app = spawn_app_with(
        backend,
        Options {
            tweak: |s| s.history.ip = assetgate::domain::IpPolicy::Truncated,
            ..Options::default()
        },
    )
    .await;
    let admin = app.admin("Ann Support").await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    app.completed_order(&vt.token, 3, &[(1, &asset)]).await;
    let link = app.link(&vt.token, 3, 1).await;
    assert_eq!(
        app.client.get(&link).send().await.unwrap().status(),
        StatusCode::OK
    );
    let path = format!("/admin/api/orders/{}/LIVE/3", vt.vendor);
    let kinds = || async {
        let d = json(app.get(&path, &admin).await).await;
        d["history"].as_array().unwrap().clone()
    };
    let history = eventually("the access is recorded", || async {
        let h = kinds().await;
        h.iter().any(|e| e["kind"] == "access").then_some(h)
    })
    .await;
    let access = history.iter().find(|e| e["kind"] == "access").unwrap();
    assert_eq!(access["details"]["ip"], "127.0.0.0");

    // Everything ages three days; an instance keeping one day purges the accesses only.
    app.execute_sql("UPDATE line_events SET at_ms = at_ms - 259200000")
        .await;
    let mut keeping_a_day = app.settings.clone();
    keeping_a_day.history.retention_days = 1;
    start_instance(&keeping_a_day).await;
    let left = eventually("old accesses purged", || async {
        let h = kinds().await;
        (!h.iter().any(|e| e["kind"] == "access")).then_some(h)
    })
    .await;
    let left: Vec<&str> = left.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    for kind in ["registered", "fulfilled", "link_issued"] {
        assert!(left.contains(&kind), "{kind} kept: {left:?}");
    }
}

/// The history writer's batches: every row of a run that takes statements
/// of several sizes, in order, with its kind, actor and details; the hourly
/// counts added; and a batch whose counts cannot be written leaves no event
/// behind (the writer retries it whole, so nothing is counted twice).
async fn access_history_batches_are_stored_whole_or_not_at_all(backend: Backend) {
    use assetgate::domain::{Actor, LineId, now_ms};
    use assetgate::store::events::AccessRow;
    let app = spawn_app(backend).await;
    let line = LineId::parse(987_654).unwrap();
    let at = now_ms();
    let hour = at - at.rem_euclid(3_600_000);
    let row = |i: i64| AccessRow {
        line_id: line,
        at_ms: at + i,
        data: json!({ "n": i, "note": "it's \"quoted\"" }).to_string(),
        request_id: (i % 3 == 0).then(|| format!("req-{i}")),
    };
    // 300 = 256 + 32 + 8 + 4 rows: four statements in one transaction.
    app.store
        .record_accesses((0..300).map(row).collect(), &[(hour, "served", 300)])
        .await
        .unwrap();
    let history = app.store.history(&[line]).await.unwrap();
    assert_eq!(history.len(), 300);
    for (i, e) in (0..).zip(&history) {
        assert_eq!(
            (e.kind.as_str(), &e.actor, e.at_ms),
            ("access", &Actor::Buyer, at + i)
        );
        assert_eq!(e.data, json!({ "n": i, "note": "it's \"quoted\"" }));
        assert_eq!(e.request_id, (i % 3 == 0).then(|| format!("req-{i}")));
    }
    let counts = app.store.accesses_since(hour).await.unwrap();
    assert_eq!(counts, vec![("served".to_owned(), 300)]);

    app.execute_sql("DROP TABLE access_counts").await;
    let refused = app
        .store
        .record_accesses((300..310).map(row).collect(), &[(hour, "served", 10)])
        .await;
    assert!(refused.is_err(), "the counts' table is gone: {refused:?}");
    assert_eq!(app.store.history(&[line]).await.unwrap().len(), 300);
}

/// SPEC §7 roles: a `viewer` reads everything and changes nothing; `support`
/// also reissues links; only `admin` cancels, edits the catalogue and manages
/// vendors, tokens and webhooks. A refused call answers 403 `role_forbidden`
/// and leaves everything as it was.
async fn roles_limit_what_each_operator_may_change_and_a_refusal_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let viewer = app.operator("Vic Viewer", Role::Viewer).await;
    let support = app.operator("Sue Support", Role::Support).await;
    let admin = app.admin("Ada Admin").await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    app.completed_order(&vt.token, 31, &[(1, &asset), (2, &asset)])
        .await;
    let order = format!("/admin/api/orders/{}/LIVE/31", vt.vendor);
    let token_id = json(
        app.get(&format!("/admin/api/vendors/{}/tokens", vt.vendor), &admin)
            .await,
    )
    .await["tokens"][0]["token_id"]
        .as_str()
        .unwrap()
        .to_owned();

    for (token, name, role) in [
        (&viewer, "Vic Viewer", "viewer"),
        (&support, "Sue Support", "support"),
        (&admin, "Ada Admin", "admin"),
    ] {
        let me = json(app.get("/admin/api/me", token).await).await;
        assert_eq!(
            (me["name"].as_str(), me["role"].as_str()),
            (Some(name), Some(role))
        );
        // Everyone reads.
        for path in [
            "/admin/api/overview",
            "/admin/api/orders",
            "/admin/api/vendors",
            "/admin/api/assets",
            "/admin/api/audit",
            order.as_str(),
        ] {
            assert_eq!(
                app.get(path, token).await.status(),
                StatusCode::OK,
                "{role} reads {path}"
            );
        }
    }

    let cancel = json!({"reason": "Refunded", "order_line_id": 1});
    let link = json!({"action": "download"});
    let suspend = format!("/admin/api/vendors/{}/suspend", vt.vendor);
    let revoke = format!("/admin/api/tokens/{token_id}/revoke");
    let refused = |res: reqwest::Response, role: &'static str, needed: &'static str| async move {
        let body = assert_error(res, StatusCode::FORBIDDEN, "role_forbidden").await;
        assert_eq!(body["details"]["role"], role, "{body}");
        assert_eq!(body["details"]["required_role"], needed, "{body}");
        assert!(
            body["message"].as_str().unwrap().contains("Ask an admin"),
            "says what to do: {body}"
        );
    };
    let patch = |token: &str| {
        let req = app
            .client
            .patch(app.url(&format!("/admin/api/assets/{}", asset.asset_id)))
            .bearer_auth(token)
            .json(&json!({"title": "Renamed"}));
        async move { req.send().await.unwrap() }
    };

    // The viewer changes nothing.
    refused(
        app.post_json(&format!("{order}/cancel"), &viewer, &cancel)
            .await,
        "viewer",
        "admin",
    )
    .await;
    refused(
        app.post_json(&format!("{order}/lines/1/links"), &viewer, &link)
            .await,
        "viewer",
        "support",
    )
    .await;
    refused(
        app.post_json(&suspend, &viewer, &json!({})).await,
        "viewer",
        "admin",
    )
    .await;
    refused(
        app.post_json(&revoke, &viewer, &json!({})).await,
        "viewer",
        "admin",
    )
    .await;
    refused(patch(&viewer).await, "viewer", "admin").await;
    refused(
        app.upload(
            &viewer,
            &[("title", "Sneaky")],
            Some(("a.pdf", b"%PDF-1.4".to_vec())),
        )
        .await,
        "viewer",
        "admin",
    )
    .await;
    refused(
        app.post_json("/admin/api/deliveries/1/redeliver", &viewer, &json!({}))
            .await,
        "viewer",
        "admin",
    )
    .await;

    // Support reissues, and cancels, suspends or edits nothing.
    let minted = json(
        app.post_json(&format!("{order}/lines/1/links"), &support, &link)
            .await,
    )
    .await;
    let served = app
        .client
        .get(minted["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), StatusCode::OK);
    refused(
        app.post_json(&format!("{order}/cancel"), &support, &cancel)
            .await,
        "support",
        "admin",
    )
    .await;
    refused(
        app.post_json(&suspend, &support, &json!({})).await,
        "support",
        "admin",
    )
    .await;
    refused(
        app.post_json(&revoke, &support, &json!({})).await,
        "support",
        "admin",
    )
    .await;
    refused(patch(&support).await, "support", "admin").await;

    // Nothing refused took effect: the line still serves, the vendor and its
    // token still work, the asset kept its title, and the audit log holds
    // only the one reissue.
    let served = app
        .client
        .get(minted["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(app.info(&vt.token, 31).await.status(), StatusCode::OK);
    let detail = json(app.get(&order, &viewer).await).await;
    assert!(
        detail["lines"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["status"] == "COMPLETED"),
        "{detail}"
    );
    let shown = json(
        app.get(&format!("/admin/api/assets/{}", asset.asset_id), &viewer)
            .await,
    )
    .await;
    assert_ne!(shown["title"], "Renamed", "{shown}");
    let audit = json(app.get("/admin/api/audit", &viewer).await).await;
    let actions: Vec<(&str, &str)> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["admin"].as_str().unwrap(), e["action"].as_str().unwrap()))
        .collect();
    assert_eq!(actions, [("Sue Support", "link_reissue")], "{audit}");

    // The admin does it all.
    let canceled = app
        .post_json(&format!("{order}/cancel"), &admin, &cancel)
        .await;
    assert_eq!(canceled.status(), StatusCode::CREATED);
    let served = app
        .client
        .get(minted["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        served.status(),
        StatusCode::FORBIDDEN,
        "canceled by the admin"
    );
    assert_eq!(patch(&admin).await.status(), StatusCode::OK);
}

/// `canceled_by` (`vendor` | `operator`) and `canceled_at` on every canceled
/// line in `/purchase/info`, `/purchase/list` and the admin API (SPEC §7);
/// live lines carry neither.
async fn canceled_lines_say_who_canceled_and_when_in_every_api(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin("Ada Admin").await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    app.completed_order(&vt.token, 41, &[(1, &asset), (2, &asset), (3, &asset)])
        .await;
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    assert_eq!(
        app.cancel(&vt.token, "order_id=41&order_line_id=1")
            .await
            .status(),
        StatusCode::CREATED
    );
    let path = format!("/admin/api/orders/{}/LIVE/41", vt.vendor);
    let res = app
        .post_json(
            &format!("{path}/cancel"),
            &admin,
            &json!({"order_line_id": 2, "reason": "Chargeback"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);

    let check = |lines: &[Value], place: &str| {
        let by_line = |n: i64| {
            lines
                .iter()
                .find(|l| l["order_line_id"] == n)
                .unwrap_or_else(|| panic!("line {n} in {place}: {lines:?}"))
        };
        for (n, by) in [(1, "vendor"), (2, "operator")] {
            let line = by_line(n);
            assert_eq!(line["status"], "CANCELED", "{place}: {line}");
            assert_eq!(line["canceled_by"], by, "{place}: {line}");
            let at = chrono::DateTime::parse_from_rfc3339(line["canceled_at"].as_str().unwrap())
                .unwrap_or_else(|e| panic!("{place}: canceled_at {e}: {line}"));
            assert!(at >= before, "{place}: {line}");
        }
        let live = by_line(3);
        assert_eq!(live["canceled_by"], Value::Null, "{place}: {live}");
        assert_eq!(live["canceled_at"], Value::Null, "{place}: {live}");
    };
    let info = json(app.info(&vt.token, 41).await).await;
    check(info.as_array().unwrap(), "/purchase/info");
    let list = json(app.get("/purchase/list", &vt.token).await).await;
    check(list["items"].as_array().unwrap(), "/purchase/list");
    let detail = json(app.get(&path, &admin).await).await;
    check(detail["lines"].as_array().unwrap(), "the admin API");
}

/// The commonest reason a link "stopped working" leaves a trace: an expired
/// link's refusal is an `access` event of its line (`result` `link_expired`,
/// actor `buyer`). A link whose signature does not hold names no line (its
/// claims are anyone's to write) and is recorded against none.
async fn an_expired_link_is_recorded_against_its_line_and_a_forged_one_against_none(
    backend: Backend,
) {
    let app = spawn_app_with(
        backend,
        Options {
            tweak: |s| s.links.ttl_seconds = 1,
            ..Options::default()
        },
    )
    .await;
    let admin = app.admin("Ann Support").await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    app.completed_order(&vt.token, 51, &[(1, &asset), (2, &asset)])
        .await;
    let link = app.link(&vt.token, 51, 2).await;
    // JWT expiry is in whole seconds: past it for certain after two.
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    assert_error(
        app.client.get(&link).send().await.unwrap(),
        StatusCode::GONE,
        "link_expired",
    )
    .await;
    // A buyer's browser gets a phone-sized page saying what to do next.
    let page = app
        .client
        .get(&link)
        .header("Accept", "text/html")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("This link has expired") && page.contains("fresh link"),
        "{page}"
    );
    assert!(page.contains("name=\"viewport\""), "{page}");
    // The reference the page shows is what support searches for.
    let reference = page
        .split_once("<code>")
        .and_then(|(_, r)| r.split_once("</code>"))
        .map(|(r, _)| r.to_owned())
        .unwrap_or_else(|| panic!("no reference: {page}"));
    let (head, rest) = link.rsplit_once('.').unwrap();
    let other = if rest.starts_with('A') { 'B' } else { 'A' };
    let forged = format!("{head}.{other}{}", &rest[1..]);
    assert_error(
        app.client.get(&forged).send().await.unwrap(),
        StatusCode::FORBIDDEN,
        "link_invalid",
    )
    .await;

    let path = format!("/admin/api/orders/{}/LIVE/51", vt.vendor);
    let accesses = eventually("the expired access is recorded", || async {
        let d = json(app.get(&path, &admin).await).await;
        let accesses: Vec<Value> = d["history"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "access")
            .cloned()
            .collect();
        (accesses.len() >= 2).then_some(accesses)
    })
    .await;
    // Give a wrongly recorded forged access time to show up too.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let d = json(app.get(&path, &admin).await).await;
    let all: Vec<&Value> = d["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "access")
        .collect();
    assert_eq!(
        all.len(),
        2,
        "the two expired tries (JSON, then the page), never the forged: {all:?}"
    );
    let e = &accesses[0];
    assert_eq!(e["order_line_id"], 2, "{e}");
    assert_eq!(e["actor"], "buyer", "{e}");
    assert_eq!(e["details"]["result"], "link_expired", "{e}");
    assert_eq!(e["details"]["status"], 410, "{e}");
    assert_eq!(e["details"]["action"], "download", "{e}");
    assert!(
        all.iter()
            .any(|e| e["details"]["reference"] == reference.as_str()),
        "the page's reference is on its access: {all:?}"
    );

    // Support pastes the reference into the search: it finds this order only.
    app.completed_order(&vt.token, 52, &[(1, &asset)]).await;
    let found = json(
        app.get(&format!("/admin/api/orders?q={reference}"), &admin)
            .await,
    )
    .await;
    let orders = found["orders"].as_array().unwrap();
    assert_eq!(orders.len(), 1, "{found}");
    assert_eq!(orders[0]["order_id"], 51, "{found}");
    // Another vendor filter, or a reference nobody was shown: nothing.
    let other = app.vendor(Environment::Live).await;
    for query in [
        format!("q={reference}&vendor_id={}", other.vendor),
        format!("q={}", uuid::Uuid::new_v4()),
    ] {
        let none = json(app.get(&format!("/admin/api/orders?{query}"), &admin).await).await;
        assert_eq!(none["orders"], json!([]), "{query}: {none}");
    }
}

/// Support may reissue a link for up to 7 days, far beyond `links.ttl_seconds`.
/// A cancel must keep that line's revocation at least until such a link
/// expires — otherwise the entry would be dropped after the usual window
/// while the link still had days to live.
async fn a_week_long_reissued_link_stays_revoked_for_its_whole_life(backend: Backend) {
    let app = spawn_app(backend).await;
    let support = app.operator("Sue Support", Role::Support).await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    app.completed_order(&vt.token, 61, &[(1, &asset), (2, &asset)])
        .await;
    let path = format!("/admin/api/orders/{}/LIVE/61", vt.vendor);
    let week = 7 * 24 * 3600;
    let too_short = app
        .post_json(
            &format!("{path}/lines/1/links"),
            &support,
            &json!({"action": "download", "lifetime_seconds": 30}),
        )
        .await;
    assert_error(
        too_short,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_request",
    )
    .await;
    let long = json(
        app.post_json(
            &format!("{path}/lines/1/links"),
            &support,
            &json!({"action": "download", "lifetime_seconds": week}),
        )
        .await,
    )
    .await;
    let expires =
        chrono::DateTime::parse_from_rfc3339(long["expires_at"].as_str().unwrap()).unwrap();
    assert!(
        expires > chrono::Utc::now() + chrono::Duration::days(6),
        "a week-long link: {long}"
    );
    let url = long["url"].as_str().unwrap();
    assert_eq!(
        app.client.get(url).send().await.unwrap().status(),
        StatusCode::OK
    );

    assert_eq!(
        app.cancel(&vt.token, "order_id=61").await.status(),
        StatusCode::CREATED
    );
    assert_error(
        app.client.get(url).send().await.unwrap(),
        StatusCode::FORBIDDEN,
        "access_revoked",
    )
    .await;
    let admin = app.admin("Ada Admin").await;
    let detail = json(app.get(&path, &admin).await).await;
    let until = |n: usize| {
        chrono::DateTime::parse_from_rfc3339(
            detail["lines"][n]["revocation"]["until"].as_str().unwrap(),
        )
        .unwrap()
    };
    assert!(
        until(0) >= expires,
        "line 1's revocation outlives its week-long link: {} < {expires}",
        until(0)
    );
    assert!(
        until(1) < chrono::Utc::now() + chrono::Duration::days(1),
        "line 2 had no long link: the usual window ({})",
        until(1)
    );
    // No long link for a canceled line.
    let res = app
        .post_json(
            &format!("{path}/lines/1/links"),
            &support,
            &json!({"action": "download", "lifetime_seconds": week}),
        )
        .await;
    assert_error(
        res,
        StatusCode::UNPROCESSABLE_ENTITY,
        "order_not_accessible",
    )
    .await;
}

/// A shop that polls `/purchase/info` every few seconds gets fresh links for
/// every line each time; the history records them once per half link
/// lifetime, while links asked for one by one are each recorded.
async fn polling_records_a_lines_link_once_per_half_lifetime_and_asked_for_links_always(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let admin = app.admin("Ann Support").await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    app.completed_order(&vt.token, 71, &[(1, &asset), (2, &asset)])
        .await;
    let path = format!("/admin/api/orders/{}/LIVE/71", vt.vendor);
    let links_of = |d: &Value, via: &str| -> Vec<i64> {
        d["history"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| {
                e["kind"] == "link_issued"
                    && e["details"]["via"] == via
                    && e["details"]["action"] == "download"
            })
            .map(|e| e["order_line_id"].as_i64().unwrap())
            .collect()
    };
    let before = json(app.get(&path, &admin).await).await;
    let polled_before = links_of(&before, "info").len();
    let mut urls = Vec::new();
    for _ in 0..5 {
        let info = json(app.info(&vt.token, 71).await).await;
        urls.push(info[0]["download_url"].as_str().unwrap().to_owned());
    }
    urls.dedup();
    assert_eq!(urls.len(), 5, "every poll answers fresh links");
    let d = json(app.get(&path, &admin).await).await;
    let mut polled = links_of(&d, "info");
    polled.sort_unstable();
    // `completed_order` polled until COMPLETED: those polls recorded them.
    assert!(polled_before <= 2, "{before}");
    assert_eq!(polled, [1, 2], "one per line, not one per poll: {d}");
    app.link(&vt.token, 71, 1).await;
    app.link(&vt.token, 71, 1).await;
    let d = json(app.get(&path, &admin).await).await;
    assert_eq!(links_of(&d, "download-url"), [1, 1], "{d}");
}
