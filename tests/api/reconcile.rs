//! What shops reconcile with: `/purchase/list` and `/purchase/cancel-batch`.

use std::collections::BTreeSet;

use assetgate::domain::{AssetId, Environment};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{
    AssetSpec, Backend, TestApp, assert_error, register_body, spawn_app, start_instance,
};

both_backends!(
    the_order_list_pages_through_every_line_once_and_filters,
    a_batch_cancel_reports_each_entry_in_input_order,
);

/// Registers `order` with `lines` lines of `asset` and waits for it to complete.
async fn order_with_lines(app: &TestApp, token: &str, order: i64, lines: i64, asset: AssetId) {
    let parts: Vec<Value> = (2..=lines)
        .map(|l| json!({"asset_id": asset, "order_line_id": l}))
        .collect();
    let res = app
        .register(token, &register_body(order, 1, asset, &parts))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
}

async fn list(app: &TestApp, token: &str, query: &str) -> Value {
    let res = app.get(&format!("/purchase/list?{query}"), token).await;
    assert_eq!(res.status(), StatusCode::OK, "{query}");
    res.json().await.unwrap()
}

/// Every (order, line) of the list with this filter, following the cursor.
async fn every_page(app: &TestApp, token: &str, filter: &str) -> Vec<(i64, i64)> {
    let mut got = Vec::new();
    let mut cursor = String::new();
    for _ in 0..100 {
        let page = list(app, token, &format!("{filter}&page_size=5&cursor={cursor}")).await;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 5);
        for item in items {
            assert_eq!(item["download_url"], Value::Null, "{item}");
            got.push((
                item["order_id"].as_i64().unwrap(),
                item["order_line_id"].as_i64().unwrap(),
            ));
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => return got,
        }
    }
    panic!("the cursor never ended");
}

async fn the_order_list_pages_through_every_line_once_and_filters(backend: Backend) {
    let app = spawn_app(backend).await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let id = asset.asset_id;
    let vt = app.vendor(Environment::Live).await;
    for order in 1..=8 {
        order_with_lines(&app, &vt.token, order, 3, id).await;
    }
    for order in 1..=8 {
        assert_eq!(app.wait_for_order(&vt.token, order).await.0, StatusCode::OK);
    }
    assert_eq!(
        app.cancel(&vt.token, "order_id=2").await.status(),
        StatusCode::CREATED
    );
    assert_eq!(
        app.cancel(&vt.token, "order_id=5&order_line_id=1")
            .await
            .status(),
        StatusCode::CREATED
    );
    // Order n created at 2026-01-01T00:0n:00Z; its three lines tie on time.
    app.execute_sql("UPDATE order_lines SET created_at_ms = 1767225600000 + order_number * 60000")
        .await;

    let all = every_page(&app, &vt.token, "").await;
    assert_eq!(all.len(), 24, "{all:?}");
    let unique: BTreeSet<_> = all.iter().copied().collect();
    assert_eq!(unique.len(), 24, "each line exactly once: {all:?}");
    assert!(
        all.windows(2).all(|w| w[0].0 >= w[1].0),
        "newest first: {all:?}"
    );

    let canceled = every_page(&app, &vt.token, "status=CANCELED").await;
    let canceled: BTreeSet<_> = canceled.into_iter().collect();
    assert_eq!(canceled, BTreeSet::from([(2, 1), (2, 2), (2, 3), (5, 1)]));
    let both = every_page(&app, &vt.token, "status=canceled,COMPLETED").await;
    assert_eq!(both.len(), 24);
    let window = every_page(
        &app,
        &vt.token,
        "created_from=2026-01-01T00:03:00Z&created_to=2026-01-01T00:06:00Z",
    )
    .await;
    let orders: BTreeSet<i64> = window.iter().map(|(o, _)| *o).collect();
    assert_eq!(orders, BTreeSet::from([3, 4, 5]), "[from, to)");
    assert_eq!(window.len(), 9);

    // An item is the full OrderItem, with the cancel's details.
    let page = list(&app, &vt.token, "status=CANCELED&page_size=200").await;
    let item = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["order_id"] == 5)
        .unwrap()
        .clone();
    assert_eq!(item["status"], "CANCELED");
    assert!(item["cancel_reason"].is_string(), "{item}");
    assert_eq!(page["next_cursor"], Value::Null);

    // Tenants: another vendor, and the same vendor's other environment, see nothing.
    let other = app.vendor(Environment::Live).await;
    assert_eq!(list(&app, &other.token, "").await["items"], json!([]));
    let sandbox = app.token_for(vt.vendor, Environment::Sandbox).await;
    assert_eq!(list(&app, &sandbox, "").await["items"], json!([]));

    for (query, field) in [
        ("status=SHIPPED", "status"),
        ("created_from=yesterday", "created_from"),
        ("created_to=2026-13-01", "created_to"),
        ("cursor=not-a-cursor", "cursor"),
        ("page_size=0", "page_size"),
        ("page_size=201", "page_size"),
    ] {
        let res = app.get(&format!("/purchase/list?{query}"), &vt.token).await;
        let err = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_request").await;
        assert_eq!(err["details"]["field"], field, "{query}: {err}");
    }
}

async fn a_batch_cancel_reports_each_entry_in_input_order(backend: Backend) {
    let app = spawn_app(backend).await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    app.completed_order(&vt.token, 1, &[(1, &asset), (2, &asset)])
        .await;
    app.completed_order(&vt.token, 2, &[(1, &asset), (2, &asset)])
        .await;
    app.completed_order(&vt.token, 3, &[(1, &asset)]).await;
    let other = app.vendor(Environment::Live).await;
    app.completed_order(&other.token, 4, &[(1, &asset)]).await;
    let links = [
        app.link(&vt.token, 1, 1).await,
        app.link(&vt.token, 2, 1).await,
        app.link(&vt.token, 2, 2).await,
    ];
    let kept = app.link(&vt.token, 1, 2).await;
    assert_eq!(
        app.cancel(&vt.token, "order_id=3").await.status(),
        StatusCode::CREATED
    );

    let body = json!({
        "lines": [
            {"order_id": 1, "order_line_id": 1},
            {"order_id": 2},
            {"order_id": 99},
            {"order_id": 3, "order_line_id": 1},
            {"order_id": 1, "order_line_id": 7},
            {"order_id": 4},
        ],
        "reason": "Chargebacks",
        "reason_code": "dispute",
    });
    let send = |body: Value, key: &'static str| {
        let app = &app;
        let token = vt.token.clone();
        async move {
            app.request(
                reqwest::Method::POST,
                "/purchase/cancel-batch",
                Some(&token),
            )
            .await
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
            .await
            .unwrap()
        }
    };
    let res = send(body.clone(), "batch-1").await;
    assert_eq!(res.status(), StatusCode::OK);
    let first: Value = res.json().await.unwrap();
    let results = first["results"].as_array().unwrap();
    let got: Vec<(&Value, &Value, &str)> = results
        .iter()
        .map(|r| {
            (
                &r["order_id"],
                &r["order_line_id"],
                r["result"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (&json!(1), &json!(1), "canceled"),
            (&json!(2), &Value::Null, "canceled"),
            (&json!(99), &Value::Null, "not_found"),
            (&json!(3), &json!(1), "not_cancelable"),
            (&json!(1), &json!(7), "not_found"),
            (&json!(4), &Value::Null, "not_found"),
        ],
        "{first}"
    );
    assert_eq!(results[0]["error"], Value::Null);
    assert_eq!(results[2]["error"]["name"], "order_not_found", "{first}");
    assert_eq!(
        results[3]["error"]["name"], "order_not_cancelable",
        "{first}"
    );
    assert!(results[3]["error"]["message"].is_string());

    // In force when it answered; the line left out still serves.
    for link in &links {
        let res = app.client.get(link).send().await.unwrap();
        assert_error(res, StatusCode::FORBIDDEN, "access_revoked").await;
    }
    assert_eq!(
        app.client.get(&kept).send().await.unwrap().status(),
        StatusCode::OK
    );
    // The other vendor's order 4 is untouched.
    let info: Value = app.info(&other.token, 4).await.json().await.unwrap();
    assert_eq!(info[0]["status"], "COMPLETED", "{info}");
    let info: Value = app.info(&vt.token, 2).await.json().await.unwrap();
    for item in info.as_array().unwrap() {
        assert_eq!(item["status"], "CANCELED");
        assert_eq!(item["cancel_reason"], "Chargebacks");
        assert_eq!(item["cancel_reason_code"], "dispute");
    }

    // Replay: the same body, byte for byte; another body with the key is refused.
    let again = send(body.clone(), "batch-1").await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    let res = send(json!({"lines": [{"order_id": 1}]}), "batch-1").await;
    assert_error(
        res,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    )
    .await;

    // Operators can find the disputes.
    let admin = app.admin("ops").await;
    let found: Value = app
        .get("/admin/api/orders?reason_code=dispute", &admin)
        .await
        .json()
        .await
        .unwrap();
    let numbers: BTreeSet<i64> = found["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["order_id"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, BTreeSet::from([1, 2]), "{found}");
    let none: Value = app
        .get("/admin/api/orders?reason_code=legal", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none["orders"], json!([]));

    // Bad batches.
    let many: Vec<Value> = (1..=501).map(|o| json!({"order_id": o})).collect();
    for (body, field) in [
        (json!({"lines": []}), "lines"),
        (json!({"lines": many}), "lines"),
        (json!({"lines": [{"order_id": 0}]}), "lines[0].order_id"),
        (
            json!({"lines": [{"order_id": 1}, {"order_id": 1, "order_line_id": -1}]}),
            "lines[1].order_line_id",
        ),
        (
            json!({"lines": [{"order_id": 1}], "reason_code": "whim"}),
            "reason_code",
        ),
    ] {
        let res = app
            .post_json("/purchase/cancel-batch", &vt.token, &body)
            .await;
        let err = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_request").await;
        assert_eq!(err["details"]["field"], field, "{err}");
    }
    let res = app
        .post_json(
            "/purchase/cancel-batch",
            &vt.token,
            &json!({"lines": [{"order_id": "one"}]}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

/// Two instances on PostgreSQL + Redis: the batch's revocations are in force
/// on the other instance the moment the batch answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_cancel_is_in_force_on_the_other_instance_when_it_answers() {
    let app = spawn_app(Backend::Postgres).await;
    let other = start_instance(&app.settings).await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    let mut entries = Vec::new();
    let mut links = Vec::new();
    for order in 1..=20 {
        app.completed_order(&vt.token, order, &[(1, &asset)]).await;
        let link = app.link(&vt.token, order, 1).await;
        // The same link, through the other instance.
        links.push(link.replacen(&app.address, &other, 1));
        entries.push(json!({"order_id": order}));
    }
    for link in &links[..2] {
        assert_eq!(
            app.client.get(link).send().await.unwrap().status(),
            StatusCode::OK,
            "served by the other instance before the cancel"
        );
    }
    let res = app
        .post_json(
            "/purchase/cancel-batch",
            &vt.token,
            &json!({"lines": entries, "reason_code": "refund"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let answer: Value = res.json().await.unwrap();
    assert!(
        answer["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["result"] == "canceled"),
        "{answer}"
    );
    for link in &links {
        let res = app.client.get(link).send().await.unwrap();
        assert_error(res, StatusCode::FORBIDDEN, "access_revoked").await;
    }
}
