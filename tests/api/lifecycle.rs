//! The product's story: register, fulfil, download, cancel, refused.

use assetgate::domain::Environment;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{
    AssetSpec, Backend, Options, assert_error, register_body, sample_pdf, spawn_app, spawn_app_with,
};

both_backends!(
    the_whole_story_from_validation_to_a_refused_download,
    canceling_one_line_leaves_the_other_lines_links_working,
    canceling_the_whole_order_kills_every_link,
    a_line_whose_file_vanished_fails_and_info_answers_502,
    concurrent_cancels_of_one_line_have_exactly_one_winner,
    a_line_canceled_before_fulfilment_stays_canceled,
);

async fn the_whole_story_from_validation_to_a_refused_download(backend: Backend) {
    // Fulfilment off at first, so the PROCESSING state is observable.
    let app = spawn_app_with(
        backend,
        Options {
            fulfilment: false,
            ..Options::default()
        },
    )
    .await;
    let bytes = sample_pdf(4096);
    let asset = app
        .add_asset(AssetSpec {
            bytes: bytes.clone(),
            ..AssetSpec::default()
        })
        .await;
    let vt = app.vendor(Environment::Live).await;

    // Validate before payment.
    let res = app
        .validate(
            &vt.token,
            &json!({"asset_id": asset.asset_id, "customer_ip": "203.0.113.9", "quantity": 1}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    let validation = v["token"].as_str().unwrap().to_owned();
    assert!(v["exp_date"].as_i64().unwrap() > chrono::Utc::now().timestamp());

    // Register with the validation token.
    let res = app
        .register(
            &vt.token,
            &json!({
                "token": validation, "order_number": 1001, "order_line_id": 1,
                "unit_price": 12.5, "line_item_price": 12.5, "customer": "Ann Buyer",
                "metadata": {"shop_ref": "A-1"},
            }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"order_id": 1001, "order_line_ids": [1], "status": "PROCESSING"})
    );

    // Info: 202 while PROCESSING.
    let res = app.info(&vt.token, 1001).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"status": "PROCESSING"})
    );
    assert_error(
        app.download_url(&vt.token, 1001, 1).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "order_not_accessible",
    )
    .await;

    // A second instance with the worker fulfils it; then 200 with links.
    app.start_fulfilment_worker().await;
    let (status, items) = app.wait_for_order(&vt.token, 1001).await;
    assert_eq!(status, StatusCode::OK, "{items}");
    let item = &items[0];
    assert_eq!(item["status"], "COMPLETED");
    assert_eq!(item["customer"], "Ann Buyer");
    assert_eq!(item["metadata"], json!({"shop_ref": "A-1"}));
    assert!(
        item["download_url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/access/", app.address))
    );
    assert!(item["view_url"].as_str().is_some());

    // download-url → GET returns exactly the asset's bytes.
    let res = app.download_url(&vt.token, 1001, 1).await;
    let link: Value = res.json().await.unwrap();
    let url = link["url"].as_str().unwrap().to_owned();
    assert!(chrono::DateTime::parse_from_rfc3339(link["expires_at"].as_str().unwrap()).is_ok());
    let res = app.client.get(&url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let h = res.headers().clone();
    assert_eq!(h["content-type"], "application/pdf");
    assert_eq!(h["content-length"], bytes.len().to_string().as_str());
    assert_eq!(h["accept-ranges"], "bytes");
    assert_eq!(h["etag"], format!("\"{}\"", asset.sha256).as_str());
    assert_eq!(h["cache-control"], "private, no-store");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(
        h["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    assert!(
        h["content-disposition"]
            .to_str()
            .unwrap()
            .contains("filename*=UTF-8''suite.pdf")
    );
    assert_eq!(res.bytes().await.unwrap().as_ref(), bytes.as_slice());

    // HEAD: headers, no body.
    let res = app.client.head(&url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["content-length"],
        bytes.len().to_string().as_str()
    );
    assert!(res.bytes().await.unwrap().is_empty());

    // Range: 206 with exactly those bytes; beyond the end: 416.
    let res = app
        .client
        .get(&url)
        .header("Range", "bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        res.headers()["content-range"],
        format!("bytes 10-19/{}", bytes.len()).as_str()
    );
    assert_eq!(res.bytes().await.unwrap().as_ref(), &bytes[10..20]);
    let res = app
        .client
        .get(&url)
        .header("Range", "bytes=999999-")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::RANGE_NOT_SATISFIABLE);

    // An If-Range that does not match the ETag gets the whole file.
    let res = app
        .client
        .get(&url)
        .header("Range", "bytes=10-19")
        .header("If-Range", "\"other\"")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.bytes().await.unwrap().len(), bytes.len());

    // If-None-Match with the strong ETag: 304.
    let res = app
        .client
        .get(&url)
        .header("If-None-Match", format!("\"{}\"", asset.sha256))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);

    // View link: inline.
    let view: Value = app.view_url(&vt.token, 1001, 1).await.json().await.unwrap();
    let res = app
        .client
        .get(view["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("inline;")
    );

    // Cancel → 201 with the order after the change.
    let res = app
        .cancel(&vt.token, "order_id=1001&reason=Refunded%20by%20shop")
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let after: Value = res.json().await.unwrap();
    assert_eq!(after[0]["status"], "CANCELED");
    assert_eq!(after[0]["download_url"], Value::Null);

    // The same link is now refused: GET, HEAD and Range alike.
    assert_error(
        app.client.get(&url).send().await.unwrap(),
        StatusCode::FORBIDDEN,
        "access_revoked",
    )
    .await;
    let res = app.client.head(&url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_error(
        app.client
            .get(&url)
            .header("Range", "bytes=10-19")
            .send()
            .await
            .unwrap(),
        StatusCode::FORBIDDEN,
        "access_revoked",
    )
    .await;
    // Browsers get a page, not JSON.
    let res = app
        .client
        .get(&url)
        .header("Accept", "text/html,*/*")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    // Phone-sized, and it tells the buyer what to do.
    let page = res.text().await.unwrap();
    assert!(page.contains("name=\"viewport\""), "{page}");
    assert!(
        page.contains("no longer available") && page.contains("contact the shop"),
        "{page}"
    );

    let body = assert_error(
        app.download_url(&vt.token, 1001, 1).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "order_not_accessible",
    )
    .await;
    assert_eq!(body["details"]["current_status"], "CANCELED");

    let (status, items) = app.wait_for_order(&vt.token, 1001).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(items[0]["status"], "CANCELED");
    assert_eq!(items[0]["cancel_reason"], "Refunded by shop");
    assert!(
        chrono::DateTime::parse_from_rfc3339(items[0]["canceled_at"].as_str().unwrap()).is_ok()
    );

    // Canceling again: 422 with the current and cancelable statuses.
    let body = assert_error(
        app.cancel(&vt.token, "order_id=1001&order_line_id=1").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "order_not_cancelable",
    )
    .await;
    assert_eq!(
        body["details"],
        json!({"current_status": "CANCELED", "cancelable_statuses": ["PROCESSING", "COMPLETED"]})
    );
    assert_eq!(
        body["message"],
        "Order line 1 of order 1001 is CANCELED and cannot be canceled."
    );
}

async fn canceling_one_line_leaves_the_other_lines_links_working(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.add_asset(AssetSpec::default()).await;
    let b = app
        .add_asset(AssetSpec {
            bytes: sample_pdf(2000),
            ..AssetSpec::default()
        })
        .await;
    let vt = app.vendor(Environment::Live).await;
    app.completed_order(&vt.token, 7, &[(1, &a), (2, &b)]).await;
    let link1 = app.link(&vt.token, 7, 1).await;
    let link2 = app.link(&vt.token, 7, 2).await;

    let res = app.cancel(&vt.token, "order_id=7&order_line_id=1").await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let items: Value = res.json().await.unwrap();
    assert_eq!(items[0]["status"], "CANCELED");
    assert_eq!(items[0]["cancel_reason"], "Order canceled via API");
    assert_eq!(items[1]["status"], "COMPLETED");
    assert!(items[1]["download_url"].as_str().is_some());

    assert_error(
        app.client.get(&link1).send().await.unwrap(),
        StatusCode::FORBIDDEN,
        "access_revoked",
    )
    .await;
    let res = app.client.get(&link2).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.bytes().await.unwrap().len(), 2000);
}

async fn canceling_the_whole_order_kills_every_link(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    app.completed_order(&vt.token, 8, &[(1, &a), (2, &a), (3, &a)])
        .await;
    let links = [
        app.link(&vt.token, 8, 1).await,
        app.link(&vt.token, 8, 2).await,
        app.link(&vt.token, 8, 3).await,
    ];

    // Reason in a JSON body works too.
    let res = app
        .request(
            Method::DELETE,
            "/purchase/cancel?order_id=8",
            Some(&vt.token),
        )
        .await
        .json(&json!({"reason": "Chargeback"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let items: Value = res.json().await.unwrap();
    assert!(
        items
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["status"] == "CANCELED" && i["cancel_reason"] == "Chargeback")
    );

    for link in &links {
        assert_error(
            app.client.get(link).send().await.unwrap(),
            StatusCode::FORBIDDEN,
            "access_revoked",
        )
        .await;
    }
}

async fn a_line_whose_file_vanished_fails_and_info_answers_502(backend: Backend) {
    let app = spawn_app_with(
        backend,
        Options {
            fulfilment: false,
            ..Options::default()
        },
    )
    .await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    let res = app
        .register(&vt.token, &register_body(9, 1, asset.asset_id, &[]))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    std::fs::remove_file(app.asset_path(&asset)).unwrap();

    app.start_fulfilment_worker().await;
    let (status, body) = app.wait_for_order(&vt.token, 9).await;

    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["status"], "FAILED");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("missing from storage"),
        "{body}"
    );
    let err = assert_error(
        app.cancel(&vt.token, "order_id=9&order_line_id=1").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "order_not_cancelable",
    )
    .await;
    assert_eq!(err["details"]["current_status"], "FAILED");
}

async fn concurrent_cancels_of_one_line_have_exactly_one_winner(backend: Backend) {
    let app = spawn_app(backend).await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    app.completed_order(&vt.token, 10, &[(1, &asset)]).await;
    let link = app.link(&vt.token, 10, 1).await;

    let (a, b) = tokio::join!(
        app.cancel(&vt.token, "order_id=10&order_line_id=1&reason=first"),
        app.cancel(&vt.token, "order_id=10&order_line_id=1&reason=second"),
    );

    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 422]);
    let (_, items) = app.wait_for_order(&vt.token, 10).await;
    let reason = items[0]["cancel_reason"].as_str().unwrap();
    assert!(reason == "first" || reason == "second");
    let lines = app
        .order_lines(
            vt.vendor,
            Environment::Live,
            assetgate::domain::OrderNumber::parse(10).unwrap(),
        )
        .await;
    let history = app.store.history(&[lines[0].line_id]).await.unwrap();
    assert_eq!(history.iter().filter(|e| e.kind == "canceled").count(), 1);
    assert_error(
        app.client.get(&link).send().await.unwrap(),
        StatusCode::FORBIDDEN,
        "access_revoked",
    )
    .await;
}

async fn a_line_canceled_before_fulfilment_stays_canceled(backend: Backend) {
    let app = spawn_app_with(
        backend,
        Options {
            fulfilment: false,
            ..Options::default()
        },
    )
    .await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    assert_eq!(
        app.register(&vt.token, &register_body(11, 1, asset.asset_id, &[]))
            .await
            .status(),
        StatusCode::CREATED
    );

    assert_eq!(
        app.cancel(&vt.token, "order_id=11").await.status(),
        StatusCode::CREATED
    );
    app.start_fulfilment_worker().await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    let (status, items) = app.wait_for_order(&vt.token, 11).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(items[0]["status"], "CANCELED");
    assert_eq!(items[0]["download_url"], Value::Null);
}

both_backends!(files_too_big_for_memory_stream_from_disk_with_the_same_semantics);

async fn files_too_big_for_memory_stream_from_disk_with_the_same_semantics(backend: Backend) {
    let app = spawn_app(backend).await;
    let bytes = sample_pdf(300 * 1024);
    let asset = app
        .add_asset(AssetSpec {
            bytes: bytes.clone(),
            viewable: false,
            ..AssetSpec::default()
        })
        .await;
    let vt = app.vendor(Environment::Live).await;
    app.completed_order(&vt.token, 12, &[(1, &asset)]).await;
    let url = app.link(&vt.token, 12, 1).await;

    let res = app.client.get(&url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["etag"],
        format!("\"{}\"", asset.sha256).as_str()
    );
    assert_eq!(res.headers()["cache-control"], "private, no-store");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert_eq!(res.headers()["accept-ranges"], "bytes");
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    assert_eq!(res.bytes().await.unwrap().as_ref(), bytes.as_slice());

    let res = app
        .client
        .get(&url)
        .header("Range", "bytes=200000-200009")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        res.headers()["content-range"],
        format!("bytes 200000-200009/{}", bytes.len()).as_str()
    );
    assert_eq!(
        res.bytes().await.unwrap().as_ref(),
        &bytes[200_000..200_010]
    );
    let res = app
        .client
        .get(&url)
        .header("Range", "bytes=400000-")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    let res = app.client.head(&url).send().await.unwrap();
    assert_eq!(
        res.headers()["content-length"],
        bytes.len().to_string().as_str()
    );
    assert!(res.bytes().await.unwrap().is_empty());

    assert_eq!(
        app.cancel(&vt.token, "order_id=12").await.status(),
        StatusCode::CREATED
    );
    assert_error(
        app.client
            .get(&url)
            .header("Range", "bytes=0-0")
            .send()
            .await
            .unwrap(),
        StatusCode::FORBIDDEN,
        "access_revoked",
    )
    .await;
}

both_backends!(every_history_event_names_its_actor);

async fn every_history_event_names_its_actor(backend: Backend) {
    use assetgate::domain::{Actor, OrderNumber};

    let app = spawn_app(backend).await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let seller = app.vendor(Environment::Live).await;
    // A second token of the same vendor, used by its refund desk.
    let (refunds, secret) = app
        .store
        .create_token(seller.vendor, Environment::Live)
        .await
        .unwrap()
        .unwrap();
    let refund_token = secrecy::ExposeSecret::expose_secret(&secret).to_owned();
    app.completed_order(&seller.token, 3, &[(1, &asset)]).await;
    let link = app.link(&seller.token, 3, 1).await;
    assert_eq!(
        app.client.get(&link).send().await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        app.cancel(&refund_token, "order_id=3").await.status(),
        StatusCode::CREATED
    );

    let lines = app
        .order_lines(
            seller.vendor,
            Environment::Live,
            OrderNumber::parse(3).unwrap(),
        )
        .await;
    let refund_desk = Actor::Vendor(refunds.token_id);
    assert_eq!(lines[0].canceled_by.as_ref(), Some(&refund_desk));
    let history = crate::helpers::eventually("the access is recorded", || async {
        let h = app.store.history(&[lines[0].line_id]).await.unwrap();
        h.iter().any(|e| e.kind == "access").then_some(h)
    })
    .await;
    let actor_of = |kind: &str| {
        history
            .iter()
            .find(|e| e.kind == kind)
            .map(|e| e.actor.to_string())
            .unwrap_or_else(|| panic!("no {kind} event"))
    };
    let seller_actor = history
        .iter()
        .find(|e| e.kind == "registered")
        .map(|e| e.actor.clone())
        .unwrap();
    assert!(
        matches!(seller_actor, Actor::Vendor(t) if t != refunds.token_id),
        "registered by the seller's token: {seller_actor}"
    );
    assert_eq!(actor_of("link_issued"), seller_actor.to_string());
    assert_eq!(actor_of("fulfilled"), "system");
    assert_eq!(actor_of("access"), "buyer");
    assert_eq!(actor_of("canceled"), refund_desk.to_string());
}

both_backends!(an_unreadable_file_is_retried_with_backoff_before_the_line_fails);

async fn an_unreadable_file_is_retried_with_backoff_before_the_line_fails(backend: Backend) {
    let app = crate::helpers::spawn_app_with(
        backend,
        Options {
            fulfilment: false,
            tweak: |s| {
                s.fulfilment.retry_base_ms = 100;
                s.fulfilment.max_attempts = 4;
            },
            ..Options::default()
        },
    )
    .await;
    let bytes = crate::helpers::sample_pdf(1000);
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    let res = app
        .register(&vt.token, &register_body(1, 1, asset.asset_id, &[]))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    // The file cannot be read (an I/O error, as a directory in its place gives).
    let path = app.asset_path(&asset);
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    app.start_fulfilment_worker().await;

    // Retried, not failed: after the first two attempts it is still PROCESSING.
    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    assert_eq!(app.info(&vt.token, 1).await.status(), StatusCode::ACCEPTED);
    // The disk comes back: the line completes.
    std::fs::remove_dir(&path).unwrap();
    std::fs::write(&path, &bytes).unwrap();
    let (status, _) = app.wait_for_order(&vt.token, 1).await;
    assert_eq!(status, StatusCode::OK);

    // A line whose file stays unreadable fails once its budget is spent.
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    let res = app
        .register(&vt.token, &register_body(3, 1, asset.asset_id, &[]))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let (status, body) = app.wait_for_order(&vt.token, 3).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("could not be read") && message.contains("after 4 attempts"),
        "{message}"
    );
}
