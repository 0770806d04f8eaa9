//! Validate-before-payment, register rules, idempotency and bad input.

use assetgate::domain::{CountryCode, Environment, Quantity, Tenant};
use assetgate::store::validation::NewValidation;
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret as _;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{AssetSpec, Backend, assert_error, register_body, spawn_app};

both_backends!(
    an_idempotency_key_left_by_a_dead_request_is_taken_over_by_one_retry,
    validation_enforces_minimum_quantity_and_regions,
    validation_tokens_are_one_time_and_bound_to_their_vendor,
    registering_an_existing_line_is_409_and_does_not_spend_the_token,
    idempotent_register_replays_the_first_answer_byte_for_byte,
    idempotent_cancel_replays_and_refuses_a_different_request,
    bad_input_on_every_purchase_route_answers_422,
    unknown_assets_answer_404_asset_not_found,
    viewing_a_non_viewable_asset_is_422,
);

fn line(order: i64, token: &str) -> Value {
    json!({"token": token, "order_number": order, "order_line_id": 1, "unit_price": 1.0, "line_item_price": 1.0, "customer": "Bo"})
}

async fn validation_enforces_minimum_quantity_and_regions(backend: Backend) {
    let app = spawn_app(backend).await;
    let asset = app
        .add_asset(AssetSpec {
            countries: &["SE", "NO"],
            min_qty: 3,
            ..AssetSpec::default()
        })
        .await;
    let vt = app.vendor(Environment::Live).await;
    let ask = |quantity: i64, country: Option<&str>| json!({"asset_id": asset.asset_id, "customer_ip": "2001:db8::1", "quantity": quantity, "country_code": country});

    let body = assert_error(
        app.validate(&vt.token, &ask(2, Some("SE"))).await,
        StatusCode::BAD_REQUEST,
        "quantity_below_minimum",
    )
    .await;
    assert_eq!(body["details"], json!({"quantity": 2, "min_qty": 3}));
    let body = assert_error(
        app.validate(&vt.token, &ask(3, Some("DK"))).await,
        StatusCode::BAD_REQUEST,
        "region_not_allowed",
    )
    .await;
    assert_eq!(body["details"]["countries"], json!(["SE", "NO"]));
    // An unknown country cannot be shown to be allowed: refused.
    assert_error(
        app.validate(&vt.token, &ask(3, None)).await,
        StatusCode::BAD_REQUEST,
        "region_not_allowed",
    )
    .await;
    assert_eq!(
        app.validate(&vt.token, &ask(3, Some("NO"))).await.status(),
        StatusCode::OK
    );

    // Register by asset_id applies the same rules.
    let mut body = register_body(1, 1, asset.asset_id, &[]);
    body["quantity"] = json!(3);
    body["country_code"] = json!("DK");
    assert_error(
        app.register(&vt.token, &body).await,
        StatusCode::BAD_REQUEST,
        "region_not_allowed",
    )
    .await;
    body["country_code"] = json!("SE");
    assert_eq!(
        app.register(&vt.token, &body).await.status(),
        StatusCode::CREATED
    );
}

async fn validation_tokens_are_one_time_and_bound_to_their_vendor(backend: Backend) {
    let app = spawn_app(backend).await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    let other = app.vendor(Environment::Live).await;
    let sandbox = app.token_for(vt.vendor, Environment::Sandbox).await;
    let token = app.validation_token(&vt.token, asset.asset_id).await;

    // Foreign vendor, other environment, forged: invalid.
    assert_error(
        app.register(&other.token, &line(1, &token)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_token_invalid",
    )
    .await;
    assert_error(
        app.register(&sandbox, &line(1, &token)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_token_invalid",
    )
    .await;
    let forged = format!("agv_{}", "A".repeat(43));
    assert_error(
        app.register(&vt.token, &line(1, &forged)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_token_invalid",
    )
    .await;
    assert_error(
        app.register(&vt.token, &line(1, "garbage")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_token_invalid",
    )
    .await;

    // First use works; the second is refused as used.
    assert_eq!(
        app.register(&vt.token, &line(1, &token)).await.status(),
        StatusCode::CREATED
    );
    assert_error(
        app.register(&vt.token, &line(2, &token)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_token_used",
    )
    .await;

    // Expired.
    let (expired, _) = app
        .store
        .create_validation_token(NewValidation {
            tenant: Tenant {
                vendor: vt.vendor,
                environment: Environment::Live,
            },
            asset_id: asset.asset_id,
            quantity: Quantity::parse(1).unwrap(),
            country_code: Some(CountryCode::parse("SE").unwrap()),
            customer_ip: "127.0.0.1".parse().unwrap(),
            ttl_ms: -1000,
        })
        .await
        .unwrap();
    assert_error(
        app.register(&vt.token, &line(3, expired.expose_secret()))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_token_expired",
    )
    .await;
}

async fn registering_an_existing_line_is_409_and_does_not_spend_the_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    assert_eq!(
        app.register(&vt.token, &register_body(20, 1, asset.asset_id, &[]))
            .await
            .status(),
        StatusCode::CREATED
    );

    let body = assert_error(
        app.register(&vt.token, &register_body(20, 1, asset.asset_id, &[]))
            .await,
        StatusCode::CONFLICT,
        "order_exists",
    )
    .await;
    assert_eq!(body["details"], json!({"order_id": 20, "order_line_id": 1}));

    let token = app.validation_token(&vt.token, asset.asset_id).await;
    assert_error(
        app.register(&vt.token, &line(20, &token)).await,
        StatusCode::CONFLICT,
        "order_exists",
    )
    .await;
    // The failed attempt left the token usable.
    assert_eq!(
        app.register(&vt.token, &line(21, &token)).await.status(),
        StatusCode::CREATED
    );
    // A second line of an existing order is fine.
    assert_eq!(
        app.register(&vt.token, &register_body(20, 2, asset.asset_id, &[]))
            .await
            .status(),
        StatusCode::CREATED
    );
}

async fn idempotent_register_replays_the_first_answer_byte_for_byte(backend: Backend) {
    let app = spawn_app(backend).await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    let body = register_body(
        30,
        1,
        asset.asset_id,
        &[json!({"asset_id": asset.asset_id, "order_line_id": 2})],
    );
    let send = |body: Value, key: &'static str| {
        let req = app
            .client
            .post(app.url("/purchase/register"))
            .bearer_auth(&vt.token)
            .header("Idempotency-Key", key);
        async move { req.json(&body).send().await.unwrap() }
    };

    let first = send(body.clone(), "key-30").await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first_body = first.text().await.unwrap();
    let retry = send(body.clone(), "key-30").await;
    assert_eq!(retry.status(), StatusCode::CREATED);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(retry.text().await.unwrap(), first_body);
    assert_eq!(
        serde_json::from_str::<Value>(&first_body).unwrap()["order_line_ids"],
        json!([1, 2])
    );

    let mut different = body.clone();
    different["customer"] = json!("Someone Else");
    assert_error(
        send(different, "key-30").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    )
    .await;
    // Without a key the duplicate is a 409.
    assert_error(
        app.register(&vt.token, &body).await,
        StatusCode::CONFLICT,
        "order_exists",
    )
    .await;
    // An oversized key is refused.
    let res = app
        .client
        .post(app.url("/purchase/register"))
        .bearer_auth(&vt.token)
        .header("Idempotency-Key", "k".repeat(256))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_request").await;
}

async fn idempotent_cancel_replays_and_refuses_a_different_request(backend: Backend) {
    let app = spawn_app(backend).await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    app.completed_order(&vt.token, 31, &[(1, &asset), (2, &asset)])
        .await;
    let cancel = |query: &'static str| {
        let req = app
            .client
            .delete(app.url(&format!("/purchase/cancel?{query}")))
            .bearer_auth(&vt.token)
            .header("Idempotency-Key", "c-31");
        async move { req.send().await.unwrap() }
    };

    let first = cancel("order_id=31&order_line_id=1").await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first_body = first.text().await.unwrap();
    // A retry (say after a client timeout) gets the same 201, not a 422.
    let retry = cancel("order_id=31&order_line_id=1").await;
    assert_eq!(retry.status(), StatusCode::CREATED);
    assert_eq!(retry.text().await.unwrap(), first_body);
    assert_error(
        cancel("order_id=31&order_line_id=2").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    )
    .await;
}

async fn bad_input_on_every_purchase_route_answers_422(backend: Backend) {
    let app = spawn_app(backend).await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    let ok = register_body(40, 1, asset.asset_id, &[]);
    let with = |field: &str, value: Value| {
        let mut b = ok.clone();
        b[field] = value;
        b
    };
    let without = |field: &str| {
        let mut b = ok.clone();
        b.as_object_mut().unwrap().remove(field);
        b
    };
    let register_cases = [
        (with("order_number", json!(-5)), "order_number"),
        (with("order_number", json!(0)), "order_number"),
        (with("order_line_id", json!("one")), "order_line_id"),
        (with("customer", json!("")), "customer"),
        (with("customer", json!("x".repeat(201))), "customer"),
        (with("unit_price", json!(-1)), "unit_price"),
        (with("quantity", json!(0)), "quantity"),
        (with("country_code", json!("se")), "country_code"),
        (with("metadata", json!([1])), "metadata"),
        (
            with("metadata", json!({"big": "x".repeat(5000)})),
            "metadata",
        ),
        (
            with(
                "parts",
                json!([{"asset_id": asset.asset_id, "order_line_id": 1}]),
            ),
            "parts[0].order_line_id",
        ),
        (without("customer"), "customer"),
        (without("asset_id"), "asset_id"),
    ];
    for (body, field) in register_cases {
        let err = assert_error(
            app.register(&vt.token, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        )
        .await;
        assert_eq!(err["details"]["field"], field, "{body}");
    }
    let validate_cases = [
        (
            json!({"asset_id": asset.asset_id, "customer_ip": "999.1.1.1", "quantity": 1}),
            "customer_ip",
        ),
        (
            json!({"asset_id": asset.asset_id, "customer_ip": "1.1.1.1", "quantity": -1}),
            "quantity",
        ),
        (
            json!({"asset_id": -1, "customer_ip": "1.1.1.1", "quantity": 1}),
            "asset_id",
        ),
    ];
    for (body, field) in validate_cases {
        let err = assert_error(
            app.validate(&vt.token, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        )
        .await;
        assert_eq!(err["details"]["field"], field, "{body}");
    }
    for (path, field) in [
        ("/purchase/info?order_id=-1", "order_id"),
        ("/purchase/info", "order_id"),
        (
            "/purchase/download-url?order_id=1&order_line_id=0",
            "order_line_id",
        ),
        ("/purchase/view-url?order_id=x&order_line_id=1", "order_id"),
    ] {
        let err = assert_error(
            app.get(path, &vt.token).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        )
        .await;
        assert_eq!(err["details"]["field"], field, "{path}");
    }
    for (query, field) in [
        ("order_id=0", "order_id"),
        ("order_id=1&order_line_id=-2", "order_line_id"),
        ("", "order_id"),
    ] {
        let res = app.cancel(&vt.token, query).await;
        let err = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_request").await;
        assert_eq!(err["details"]["field"], field, "{query}");
    }
    let long_reason = format!("order_id=1&reason={}", "r".repeat(501));
    assert_error(
        app.cancel(&vt.token, &long_reason).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_request",
    )
    .await;
    let res = app
        .request(
            Method::DELETE,
            "/purchase/cancel?order_id=1",
            Some(&vt.token),
        )
        .await
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_request").await;
    // Nothing was registered by any of that.
    assert_error(
        app.info(&vt.token, 40).await,
        StatusCode::NOT_FOUND,
        "order_not_found",
    )
    .await;
}

async fn unknown_assets_answer_404_asset_not_found(backend: Backend) {
    let app = spawn_app(backend).await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    let body = assert_error(
        app.validate(
            &vt.token,
            &json!({"asset_id": 999, "customer_ip": "1.1.1.1", "quantity": 1}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "asset_not_found",
    )
    .await;
    assert_eq!(body["details"]["asset_id"], 999);
    let parts = [json!({"asset_id": 998, "order_line_id": 2})];
    assert_error(
        app.register(&vt.token, &register_body(50, 1, asset.asset_id, &parts))
            .await,
        StatusCode::NOT_FOUND,
        "asset_not_found",
    )
    .await;
    // Atomic: the main line was not registered either.
    assert_error(
        app.info(&vt.token, 50).await,
        StatusCode::NOT_FOUND,
        "order_not_found",
    )
    .await;
    assert_error(
        app.download_url(&vt.token, 404, 1).await,
        StatusCode::NOT_FOUND,
        "order_not_found",
    )
    .await;
}

async fn viewing_a_non_viewable_asset_is_422(backend: Backend) {
    let app = spawn_app(backend).await;
    let asset = app
        .add_asset(AssetSpec {
            viewable: false,
            ..AssetSpec::default()
        })
        .await;
    let vt = app.vendor(Environment::Live).await;
    let (_, items) = {
        app.completed_order(&vt.token, 60, &[(1, &asset)]).await;
        app.wait_for_order(&vt.token, 60).await
    };
    assert_eq!(items[0]["view_url"], Value::Null);
    assert!(items[0]["download_url"].as_str().is_some());
    assert_error(
        app.view_url(&vt.token, 60, 1).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "asset_not_viewable",
    )
    .await;
    assert_error(
        app.view_url(&vt.token, 60, 2).await,
        StatusCode::NOT_FOUND,
        "order_not_found",
    )
    .await;
}

async fn an_idempotency_key_left_by_a_dead_request_is_taken_over_by_one_retry(backend: Backend) {
    use assetgate::domain::IdempotencyKey;
    use assetgate::store::idempotency::{Begin, KeyScope, STALE_IN_PROGRESS_MS};
    let app = spawn_app(backend).await;
    let vt = app.vendor(Environment::Live).await;
    let key = IdempotencyKey::parse("refund-crash-1").unwrap();
    let scope = KeyScope {
        tenant: Tenant {
            vendor: vt.vendor,
            environment: Environment::Live,
        },
        key: &key,
    };
    let begin = |hash: &'static str| app.store.idempotency_begin(&scope, hash);

    assert_eq!(begin("h").await.unwrap(), Begin::New);
    // While the first request may still be running, a retry waits for it.
    assert_eq!(begin("h").await.unwrap(), Begin::InProgress);

    // The first request died without answering: its key ages past the threshold.
    app.execute_sql(&format!(
        "UPDATE idempotency_keys SET created_at_ms = created_at_ms - {}",
        STALE_IN_PROGRESS_MS + 1000
    ))
    .await;
    assert_eq!(
        begin("other").await.unwrap(),
        Begin::Mismatch,
        "a different request never takes a key over"
    );
    assert_eq!(begin("h").await.unwrap(), Begin::New, "taken over");
    assert_eq!(
        begin("h").await.unwrap(),
        Begin::InProgress,
        "by exactly one retry"
    );
    // Releasing a key (after a server error) never loses a stored answer.
    let answer = assetgate::store::idempotency::Answer {
        status: 201,
        body: "{}",
        resumable: false,
    };
    app.store.idempotency_finish(&scope, &answer).await.unwrap();
    app.store.idempotency_abandon(&scope).await.unwrap();
    assert_eq!(
        begin("h").await.unwrap(),
        Begin::Replay {
            status: 201,
            body: "{}".into()
        },
        "an answered key is not released"
    );
    let late = assetgate::store::idempotency::Answer {
        status: 503,
        body: "late",
        resumable: true,
    };
    app.store.idempotency_finish(&scope, &late).await.unwrap();
    assert_eq!(
        begin("h").await.unwrap(),
        Begin::Replay {
            status: 201,
            body: "{}".into()
        },
        "a final answer is not rewritten"
    );
}
