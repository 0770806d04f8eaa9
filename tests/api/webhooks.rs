//! Webhooks end to end: the gateway delivers to a real receiver on a local
//! port, which verifies every signature with its own implementation.

use std::time::{Duration, Instant};

use assetgate::config::Settings;
use assetgate::domain::Environment;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{
    AssetSpec, Backend, Options, TestApp, assert_error, eventually, register_body, spawn_app,
    spawn_app_with, start_instance,
};
use crate::receiver::{Answer, Received, Receiver};

/// Local receivers allowed; retries 200 ms apart, three of them.
fn local_hooks(s: &mut Settings) {
    s.webhooks.allow_http = true;
    s.webhooks.allow_private_networks = true;
    s.webhooks.retry_schedule = "200ms,200ms,200ms".into();
    s.webhooks.poll_interval_ms = 100;
}

/// [`local_hooks`] with a 1 s delivery timeout (so a 7 s lease).
fn local_hooks_quick_timeout(s: &mut Settings) {
    local_hooks(s);
    s.webhooks.timeout_seconds = 1;
}

/// [`local_hooks`] with a 3 s delivery timeout.
fn local_hooks_short_timeout(s: &mut Settings) {
    local_hooks(s);
    s.webhooks.timeout_seconds = 3;
}

async fn hooks_app(backend: Backend) -> TestApp {
    spawn_app_with(
        backend,
        Options {
            tweak: local_hooks,
            ..Options::default()
        },
    )
    .await
}

/// Registers an endpoint at `receiver` + `path`; returns its id. The
/// receiver learns the secret (shown once, in this answer).
async fn endpoint(
    app: &TestApp,
    token: &str,
    receiver: &Receiver,
    path: &str,
    events: Option<&[&str]>,
) -> String {
    let mut body = json!({"url": receiver.url(path), "description": format!("test {path}")});
    if let Some(events) = events {
        body["events"] = json!(events);
    }
    let res = app.post_json("/webhooks", token, &body).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let created: Value = res.json().await.unwrap();
    let secret = created["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"), "{created}");
    assert_eq!(created["status"], "ENABLED");
    receiver.set_secret(path, secret);
    created["webhook_id"].as_str().unwrap().to_owned()
}

/// Waits until `path` has received `n` requests carrying `kind` events.
async fn wait_events(receiver: &Receiver, path: &str, kind: &str, n: usize) -> Vec<Received> {
    eventually(&format!("{n} {kind} at {path}"), || async {
        let got = receiver.events(path, kind);
        (got.len() >= n).then_some(got)
    })
    .await
}

fn assert_signed(events: &[Received]) {
    let now = chrono::Utc::now().timestamp();
    for e in events {
        assert!(e.verified, "signature must verify: {e:?}");
        assert!(e.id.starts_with("msg_"), "{e:?}");
        assert!((now - e.timestamp).abs() < 60, "timestamp is now: {e:?}");
        assert!(
            chrono::DateTime::parse_from_rfc3339(e.body["timestamp"].as_str().unwrap()).is_ok(),
            "{e:?}"
        );
    }
}

/// The deliveries of an endpoint, as the vendor sees them.
async fn deliveries(app: &TestApp, token: &str, webhook: &str) -> Vec<Value> {
    let res = app
        .get(&format!("/webhooks/{webhook}/deliveries"), token)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json::<Value>().await.unwrap()["deliveries"]
        .as_array()
        .unwrap()
        .clone()
}

both_backends!(
    completion_every_kind_of_cancel_and_failure_each_send_a_signed_event,
    a_receiver_failing_twice_gets_the_same_id_three_times,
    gone_disables_an_endpoint_and_so_does_failing_for_too_long,
    a_hanging_receiver_times_out_without_holding_up_another_vendor,
    internal_and_non_http_targets_are_refused,
    endpoints_belong_to_their_tenant,
    endpoints_are_capped_per_vendor_and_a_deleted_ones_secret_is_wiped,
    operators_see_endpoints_and_deliveries_and_redeliver,
    a_test_event_skips_a_blocked_queue_and_the_vendor_retries_the_blocker,
);

async fn completion_every_kind_of_cancel_and_failure_each_send_a_signed_event(backend: Backend) {
    let app = hooks_app(backend).await;
    let receiver = Receiver::start().await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    endpoint(&app, &vt.token, &receiver, "/shop", None).await;
    // Another environment's endpoint hears nothing of LIVE orders.
    let sandbox = app.token_for(vt.vendor, Environment::Sandbox).await;
    endpoint(&app, &sandbox, &receiver, "/sandbox", None).await;

    // Completed: one event per line.
    app.completed_order(&vt.token, 1, &[(1, &asset), (2, &asset)])
        .await;
    app.completed_order(&vt.token, 2, &[(1, &asset)]).await;
    let completed = wait_events(&receiver, "/shop", "order_line.completed", 3).await;
    assert_signed(&completed);
    let first = completed
        .iter()
        .find(|e| e.body["data"]["order_id"] == 1 && e.body["data"]["order_line_id"] == 1)
        .expect("line 1 of order 1 completed");
    assert_eq!(first.body["environment"], "LIVE");
    assert_eq!(first.body["data"]["status"], "COMPLETED");
    assert_eq!(first.body["data"]["download_url"], Value::Null);
    assert_eq!(first.body["data"]["customer"], "Ann Buyer");

    // Vendor cancel, with a reason code.
    let res = app
        .cancel(
            &vt.token,
            "order_id=1&order_line_id=1&reason=Refunded&reason_code=refund",
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let answer: Value = res.json().await.unwrap();
    let item = answer
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["order_line_id"] == 1)
        .unwrap();
    assert_eq!(item["cancel_reason_code"], "refund", "{answer}");
    let canceled = wait_events(&receiver, "/shop", "order_line.canceled", 1).await;
    let data = &canceled[0].body["data"];
    assert_eq!(data["order_id"], 1);
    assert_eq!(data["order_line_id"], 1);
    assert_eq!(data["status"], "CANCELED");
    assert_eq!(data["cancel_reason"], "Refunded");
    assert_eq!(data["cancel_reason_code"], "refund");
    assert_eq!(data["canceled_by"], "vendor");
    assert!(data["canceled_at"].is_string(), "{data}");

    // Batch cancel of a whole order.
    let res = app
        .post_json(
            "/purchase/cancel-batch",
            &vt.token,
            &json!({"lines": [{"order_id": 2}], "reason": "Chargeback", "reason_code": "dispute"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let canceled = wait_events(&receiver, "/shop", "order_line.canceled", 2).await;
    let batch = canceled
        .iter()
        .find(|e| e.body["data"]["order_id"] == 2)
        .expect("order 2 canceled");
    assert_eq!(batch.body["data"]["canceled_by"], "vendor");
    assert_eq!(batch.body["data"]["cancel_reason_code"], "dispute");

    // Operator cancel.
    let admin = app.admin("support").await;
    let res = app
        .post_json(
            &format!("/admin/api/orders/{}/LIVE/1/cancel", vt.vendor),
            &admin,
            &json!({"order_line_id": 2, "reason": "Court order", "reason_code": "legal"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let canceled = wait_events(&receiver, "/shop", "order_line.canceled", 3).await;
    let by_operator = canceled
        .iter()
        .find(|e| e.body["data"]["order_id"] == 1 && e.body["data"]["order_line_id"] == 2)
        .expect("line 2 of order 1 canceled");
    assert_eq!(by_operator.body["data"]["canceled_by"], "operator");
    assert_eq!(by_operator.body["data"]["cancel_reason"], "Court order");
    assert_eq!(by_operator.body["data"]["cancel_reason_code"], "legal");

    // Failed fulfilment: the asset's file is gone.
    let broken = app
        .add_asset(AssetSpec {
            title: "Missing",
            ..AssetSpec::default()
        })
        .await;
    std::fs::remove_file(app.asset_path(&broken)).unwrap();
    let res = app
        .register(&vt.token, &register_body(3, 1, broken.asset_id, &[]))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let failed = wait_events(&receiver, "/shop", "order_line.failed", 1).await;
    assert_eq!(failed[0].body["data"]["order_id"], 3);
    assert_eq!(failed[0].body["data"]["status"], "FAILED");

    let all = receiver.received("/shop");
    assert_signed(&all);
    let mut ids: Vec<&str> = all.iter().map(|r| r.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 7, "seven events, each sent once: {all:?}");
    assert!(
        receiver.received("/sandbox").is_empty(),
        "the SANDBOX endpoint hears nothing of LIVE orders"
    );
}

async fn a_receiver_failing_twice_gets_the_same_id_three_times(backend: Backend) {
    let app = hooks_app(backend).await;
    let receiver = Receiver::start().await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    let hook = endpoint(&app, &vt.token, &receiver, "/flaky", None).await;
    receiver.script("/flaky", &[Answer::Status(500), Answer::Status(500)]);

    app.completed_order(&vt.token, 5, &[(1, &asset)]).await;
    let got = wait_events(&receiver, "/flaky", "order_line.completed", 3).await;
    assert_signed(&got);
    assert_eq!(got.len(), 3);
    assert!(
        got.iter().all(|r| r.id == got[0].id),
        "same webhook-id: {got:?}"
    );
    assert!(
        got[1].at.duration_since(got[0].at) >= Duration::from_millis(150),
        "retried after the schedule's delay (200 ms ± 10 %), not at once"
    );

    let delivery = eventually("the delivery is delivered", || async {
        let list = deliveries(&app, &vt.token, &hook).await;
        list.into_iter().find(|d| d["state"] == "delivered")
    })
    .await;
    assert_eq!(delivery["attempts"], 3);
    assert_eq!(delivery["last_status"], 200);
    assert_eq!(delivery["event_id"], got[0].id.as_str());
    assert_eq!(delivery["type"], "order_line.completed");
    assert_eq!(delivery["next_attempt_at"], Value::Null);
    // Still enabled, and no longer failing.
    let hooks: Value = app.get("/webhooks", &vt.token).await.json().await.unwrap();
    assert_eq!(hooks["webhooks"][0]["status"], "ENABLED");
    assert_eq!(hooks["webhooks"][0]["failing_since"], Value::Null);
}

async fn gone_disables_an_endpoint_and_so_does_failing_for_too_long(backend: Backend) {
    let app = hooks_app(backend).await;
    let receiver = Receiver::start().await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    let gone = endpoint(&app, &vt.token, &receiver, "/gone", None).await;
    receiver.script("/gone", &[Answer::Status(410)]);
    let ok = endpoint(&app, &vt.token, &receiver, "/ok", None).await;

    app.completed_order(&vt.token, 1, &[(1, &asset)]).await;
    wait_events(&receiver, "/gone", "order_line.completed", 1).await;
    let status = |id: String| {
        let app = &app;
        let token = vt.token.clone();
        async move {
            let hooks: Value = app.get("/webhooks", &token).await.json().await.unwrap();
            hooks["webhooks"]
                .as_array()
                .unwrap()
                .iter()
                .find(|w| w["webhook_id"] == id.as_str())
                .cloned()
                .unwrap()
        }
    };
    let disabled = eventually("410 disables the endpoint", || async {
        let w = status(gone.clone()).await;
        (w["status"] == "DISABLED").then_some(w)
    })
    .await;
    assert!(
        disabled["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("410"),
        "{disabled}"
    );
    // Later events go to the enabled endpoint only.
    app.completed_order(&vt.token, 2, &[(1, &asset)]).await;
    wait_events(&receiver, "/ok", "order_line.completed", 2).await;
    assert_eq!(receiver.received("/gone").len(), 1);
    assert_eq!(status(ok.clone()).await["status"], "ENABLED");

    // An endpoint that only ever fails: every retry of the schedule, then failed.
    let dead = endpoint(&app, &vt.token, &receiver, "/dead", None).await;
    receiver.script("/dead", &[Answer::Status(503); 20]);
    let res = app
        .post_json(&format!("/webhooks/{dead}/test"), &vt.token, &json!({}))
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let failed = eventually("the delivery fails after the schedule", || async {
        deliveries(&app, &vt.token, &dead)
            .await
            .into_iter()
            .find(|d| d["state"] == "failed")
    })
    .await;
    assert_eq!(failed["attempts"], 4, "one try and three retries: {failed}");
    assert_eq!(failed["last_status"], 503);
    assert_eq!(failed["type"], "webhook.test");
    let w = status(dead.clone()).await;
    assert_eq!(w["status"], "ENABLED", "not failing for 120 hours yet");
    assert!(w["failing_since"].is_string(), "{w}");

    // Failing since 121 hours ago: the next failure disables it.
    let long_ago = chrono::Utc::now().timestamp_millis() - 121 * 3_600_000;
    app.execute_sql(&format!(
        "UPDATE webhooks SET failing_since_ms = {long_ago} WHERE failing_since_ms IS NOT NULL"
    ))
    .await;
    app.post_json(&format!("/webhooks/{dead}/test"), &vt.token, &json!({}))
        .await;
    let disabled = eventually("failing too long disables the endpoint", || async {
        let w = status(dead.clone()).await;
        (w["status"] == "DISABLED").then_some(w)
    })
    .await;
    assert!(
        disabled["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("120 hours"),
        "{disabled}"
    );
}

async fn a_hanging_receiver_times_out_without_holding_up_another_vendor(backend: Backend) {
    let app = spawn_app_with(
        backend,
        Options {
            tweak: local_hooks_short_timeout,
            ..Options::default()
        },
    )
    .await;
    let receiver = Receiver::start().await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let slow_shop = app.vendor(Environment::Live).await;
    let fast_shop = app.vendor(Environment::Live).await;
    let slow = endpoint(&app, &slow_shop.token, &receiver, "/slow", None).await;
    endpoint(&app, &fast_shop.token, &receiver, "/fast", None).await;
    receiver.script("/slow", &[Answer::Hang(Duration::from_secs(30)); 10]);

    app.completed_order(&slow_shop.token, 1, &[(1, &asset)])
        .await;
    wait_events(&receiver, "/slow", "order_line.completed", 1).await;
    let started = Instant::now();
    app.completed_order(&fast_shop.token, 1, &[(1, &asset)])
        .await;
    let fast = wait_events(&receiver, "/fast", "order_line.completed", 1).await;
    let latency = fast[0].at.duration_since(started);
    println!(
        "other vendor's event delivered {latency:?} after its register, while a receiver hung"
    );
    assert!(
        fast[0].open_elsewhere >= 1,
        "the other vendor's event arrived while the hanging request was still open"
    );

    // The hanging attempt timed out and was retried (same id).
    let slow_got = wait_events(&receiver, "/slow", "order_line.completed", 2).await;
    assert_eq!(slow_got[0].id, slow_got[1].id);
    let d = eventually("the timeout is recorded", || async {
        deliveries(&app, &slow_shop.token, &slow)
            .await
            .into_iter()
            .find(|d| d["attempts"].as_i64() >= Some(1))
    })
    .await;
    assert_eq!(d["last_error"], "timed out", "{d}");
    assert_eq!(d["last_status"], Value::Null);
}

async fn internal_and_non_http_targets_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let vt = app.vendor(Environment::Live).await;
    for url in [
        "http://127.0.0.1/hook",
        "http://10.0.0.1/hook",
        "http://[::1]/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://localhost/hook",
        "https://[::ffff:127.0.0.1]/hook",
        // IPv6 forms that carry an internal IPv4 address.
        "https://[::127.0.0.1]/hook",
        "https://[::ffff:0:7f00:1]/hook",
        "https://[2002:7f00:1::1]/hook",
        "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hook",
        "https://[::a00:1]/hook",
        "https://[100::1]/hook",
        "file:///etc/passwd",
        "gopher://example.com/",
        "http://example.com/hook",
        "https://user:secret@example.com/hook",
        "not a url",
    ] {
        let res = app
            .post_json("/webhooks", &vt.token, &json!({"url": url}))
            .await;
        let err = assert_error(
            res,
            StatusCode::UNPROCESSABLE_ENTITY,
            "webhook_url_not_allowed",
        )
        .await;
        assert!(!err["message"].as_str().unwrap().is_empty(), "{url}: {err}");
    }
    let hooks: Value = app.get("/webhooks", &vt.token).await.json().await.unwrap();
    assert_eq!(hooks["webhooks"], json!([]), "nothing was registered");
}

async fn endpoints_are_capped_per_vendor_and_a_deleted_ones_secret_is_wiped(backend: Backend) {
    let app = spawn_app_with(
        backend,
        Options {
            tweak: |s| {
                local_hooks(s);
                s.webhooks.max_endpoints_per_vendor = 3;
            },
            ..Options::default()
        },
    )
    .await;
    let receiver = Receiver::start().await;
    let live = app.vendor(Environment::Live).await;
    let sandbox = app.token_for(live.vendor, Environment::Sandbox).await;
    let first = endpoint(&app, &live.token, &receiver, "/a", None).await;
    endpoint(&app, &live.token, &receiver, "/b", None).await;
    // The cap counts both environments of the vendor.
    endpoint(&app, &sandbox, &receiver, "/c", None).await;
    let res = app
        .post_json(
            "/webhooks",
            &live.token,
            &json!({"url": receiver.url("/d")}),
        )
        .await;
    let err = assert_error(
        res,
        StatusCode::UNPROCESSABLE_ENTITY,
        "webhook_limit_reached",
    )
    .await;
    assert_eq!(err["details"]["limit"], 3, "{err}");
    assert!(
        err["message"].as_str().unwrap().contains("delete one"),
        "{err}"
    );
    // Another vendor is not affected.
    let other = app.vendor(Environment::Live).await;
    endpoint(&app, &other.token, &receiver, "/other", None).await;

    // Deleting one frees a place, and its secret is gone from the database.
    let res = app
        .request(
            Method::DELETE,
            &format!("/webhooks/{first}"),
            Some(&live.token),
        )
        .await
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let secrets = app
        .query_strings(&format!("SELECT secret FROM webhooks WHERE id = '{first}'"))
        .await;
    assert_eq!(
        secrets,
        vec![String::new()],
        "the deleted endpoint's secret is wiped"
    );
    let kept = app
        .query_strings("SELECT secret FROM webhooks WHERE status <> 'DELETED'")
        .await;
    assert_eq!(kept.len(), 3);
    assert!(kept.iter().all(|s| s.starts_with("whsec_")), "{kept:?}");
    endpoint(&app, &live.token, &receiver, "/d", None).await;
}

async fn endpoints_belong_to_their_tenant(backend: Backend) {
    let app = hooks_app(backend).await;
    let receiver = Receiver::start().await;
    let vt = app.vendor(Environment::Live).await;
    let other = app.vendor(Environment::Live).await;
    let id = endpoint(
        &app,
        &vt.token,
        &receiver,
        "/mine",
        Some(&["order_line.canceled"]),
    )
    .await;

    // Listed without the secret, with its events.
    let hooks: Value = app.get("/webhooks", &vt.token).await.json().await.unwrap();
    let w = &hooks["webhooks"][0];
    assert_eq!(w["webhook_id"], id.as_str());
    assert_eq!(w["events"], json!(["order_line.canceled"]));
    assert_eq!(w["description"], "test /mine");
    assert!(w.get("secret").is_none(), "{w}");
    assert!(!hooks.to_string().contains("whsec_"));

    // Another vendor neither sees nor touches it.
    let theirs: Value = app
        .get("/webhooks", &other.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["webhooks"], json!([]));
    for (method, path) in [
        (Method::DELETE, format!("/webhooks/{id}")),
        (Method::GET, format!("/webhooks/{id}/deliveries")),
        (Method::POST, format!("/webhooks/{id}/test")),
    ] {
        let res = app
            .request(method, &path, Some(&other.token))
            .await
            .send()
            .await
            .unwrap();
        assert_error(res, StatusCode::NOT_FOUND, "webhook_not_found").await;
    }

    // Bad input.
    for (body, field) in [
        (
            json!({"url": receiver.url("/x"), "events": ["order_line.shipped"]}),
            "events",
        ),
        (
            json!({"url": receiver.url("/x"), "events": ["webhook.test"]}),
            "events",
        ),
        (
            json!({"url": receiver.url("/x"), "description": "d".repeat(201)}),
            "description",
        ),
        (
            json!({"url": format!("https://example.com/{}", "a".repeat(2001))}),
            "url",
        ),
    ] {
        let res = app.post_json("/webhooks", &vt.token, &body).await;
        let err = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_request").await;
        assert_eq!(err["details"]["field"], field, "{err}");
    }
    let res = app
        .post_json("/webhooks", &vt.token, &json!({"url": 5}))
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = app.get("/webhooks/not-an-id/deliveries", &vt.token).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = app
        .get(&format!("/webhooks/{id}/deliveries?cursor=zzz"), &vt.token)
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // The test event is sent even though the endpoint only wants cancels.
    let res = app
        .post_json(&format!("/webhooks/{id}/test"), &vt.token, &json!({}))
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let test = wait_events(&receiver, "/mine", "webhook.test", 1).await;
    assert_signed(&test);
    assert_eq!(test[0].body["data"]["webhook_id"], id.as_str());

    // Deliveries page newest first with a cursor covering each exactly once.
    for _ in 0..4 {
        app.post_json(&format!("/webhooks/{id}/test"), &vt.token, &json!({}))
            .await;
    }
    wait_events(&receiver, "/mine", "webhook.test", 5).await;
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let page: Value = app
            .get(
                &format!("/webhooks/{id}/deliveries?page_size=2&cursor={cursor}"),
                &vt.token,
            )
            .await
            .json()
            .await
            .unwrap();
        for d in page["deliveries"].as_array().unwrap() {
            seen.push(d["delivery_id"].as_i64().unwrap());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5, "{seen:?}");
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "newest first: {seen:?}"
    );

    // Deleted: gone from the list, and its id is unknown.
    let res = app
        .request(Method::DELETE, &format!("/webhooks/{id}"), Some(&vt.token))
        .await
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let hooks: Value = app.get("/webhooks", &vt.token).await.json().await.unwrap();
    assert_eq!(hooks["webhooks"], json!([]));
    let res = app
        .post_json(&format!("/webhooks/{id}/test"), &vt.token, &json!({}))
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "webhook_not_found").await;
}

/// Two instances on one database, both delivering: each event arrives once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_deliver_each_event_once() {
    let app = hooks_app(Backend::Postgres).await;
    start_instance(&app.settings).await;
    let receiver = Receiver::start().await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    endpoint(&app, &vt.token, &receiver, "/both", None).await;

    for order in 1..=40 {
        let res = app
            .register(&vt.token, &register_body(order, 1, asset.asset_id, &[]))
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let got = wait_events(&receiver, "/both", "order_line.completed", 40).await;
    // Give a duplicate the time to show up, if one were coming.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got_after = receiver.received("/both");
    assert_eq!(got_after.len(), 40, "each event once: {got:?}");
    let mut orders: Vec<i64> = got_after
        .iter()
        .map(|r| r.body["data"]["order_id"].as_i64().unwrap())
        .collect();
    orders.sort_unstable();
    assert_eq!(orders, (1..=40).collect::<Vec<_>>());
    assert_signed(&got_after);
}

/// Names are checked again when delivering: an instance whose policy refuses
/// the (already registered) target does not connect to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_target_is_checked_again_at_delivery() {
    fn registering_only(s: &mut Settings) {
        local_hooks(s);
        s.webhooks.deliver = false;
    }
    let app = spawn_app_with(
        Backend::Postgres,
        Options {
            tweak: registering_only,
            ..Options::default()
        },
    )
    .await;
    let mut strict = app.settings.clone();
    strict.webhooks.deliver = true;
    strict.webhooks.allow_private_networks = false;
    start_instance(&strict).await;
    let receiver = Receiver::start().await;
    let vt = app.vendor(Environment::Live).await;
    let id = endpoint(&app, &vt.token, &receiver, "/inside", None).await;
    app.post_json(&format!("/webhooks/{id}/test"), &vt.token, &json!({}))
        .await;

    let d = eventually("the attempt is refused", || async {
        deliveries(&app, &vt.token, &id)
            .await
            .into_iter()
            .find(|d| d["attempts"].as_i64() >= Some(1))
    })
    .await;
    assert!(
        d["last_error"]
            .as_str()
            .unwrap()
            .contains("not a public address"),
        "{d}"
    );
    assert!(receiver.received("/inside").is_empty());
}

/// The instance dies with a delivery in flight; another instance delivers
/// it once the claim's lease runs out. The event was committed with the
/// change, so nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_outlives_a_crash_between_the_change_and_its_delivery() {
    use secrecy::ExposeSecret as _;
    fn not_delivering(s: &mut Settings) {
        local_hooks_quick_timeout(s);
        s.webhooks.deliver = false;
    }
    let app = spawn_app_with(
        Backend::Postgres,
        Options {
            tweak: not_delivering,
            ..Options::default()
        },
    )
    .await;
    let receiver = Receiver::start().await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    let id = endpoint(&app, &vt.token, &receiver, "/crash", None).await;
    receiver.script("/crash", &[Answer::Hang(Duration::from_secs(60))]);

    // The only delivering instance: a real process, killed mid-delivery.
    let s = &app.settings;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_assetgate"))
        .env_clear()
        .env("ASSETGATE__SERVER__PORT", "0")
        .env("ASSETGATE__DATABASE__URL", s.database.url.expose_secret())
        .env("ASSETGATE__REDIS__URL", s.redis.url.expose_secret())
        .env("ASSETGATE__REDIS__KEY_PREFIX", &s.redis.key_prefix)
        .env("ASSETGATE__STORAGE__PATH", &s.storage.path)
        .env(
            "ASSETGATE__LINKS__SIGNING_KEY_FILE",
            &s.links.signing_key_file,
        )
        .env("ASSETGATE__FULFILMENT__ENABLED", "false")
        .env("ASSETGATE__WEBHOOKS__ALLOW_HTTP", "true")
        .env("ASSETGATE__WEBHOOKS__ALLOW_PRIVATE_NETWORKS", "true")
        .env("ASSETGATE__WEBHOOKS__TIMEOUT_SECONDS", "1")
        .env("ASSETGATE__WEBHOOKS__POLL_INTERVAL_MS", "100")
        .env("ASSETGATE__LOG__LEVEL", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // The change and its event, committed together (fulfilment runs in `app`).
    app.completed_order(&vt.token, 1, &[(1, &asset)]).await;
    let first = wait_events(&receiver, "/crash", "order_line.completed", 1).await;
    child.start_kill().unwrap();
    child.wait().await.unwrap();

    // A new instance takes over after the lease (2 × 1 s + 5 s).
    let killed = Instant::now();
    let mut next = app.settings.clone();
    next.webhooks.deliver = true;
    start_instance(&next).await;
    let got = eventually("the event is delivered after the crash", || async {
        let got = receiver.events("/crash", "order_line.completed");
        (got.len() >= 2).then_some(got)
    })
    .await;
    println!("delivered {:?} after the crash", killed.elapsed());
    assert_eq!(got[1].id, first[0].id, "the same event, at least once");
    assert_signed(&got);
    let d = eventually("delivered", || async {
        deliveries(&app, &vt.token, &id)
            .await
            .into_iter()
            .find(|d| d["state"] == "delivered")
    })
    .await;
    assert_eq!(d["event_id"], first[0].id.as_str());
}

async fn operators_see_endpoints_and_deliveries_and_redeliver(backend: Backend) {
    let app = hooks_app(backend).await;
    let receiver = Receiver::start().await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    let hook = endpoint(&app, &vt.token, &receiver, "/ops", None).await;
    receiver.script("/ops", &[Answer::Status(410)]);
    app.completed_order(&vt.token, 1, &[(1, &asset)]).await;
    wait_events(&receiver, "/ops", "order_line.completed", 1).await;
    let admin = app.admin("ops").await;

    let listed = eventually("the endpoint shows DISABLED", || async {
        let hooks: Value = app
            .get(
                &format!("/admin/api/vendors/{}/webhooks", vt.vendor),
                &admin,
            )
            .await
            .json()
            .await
            .unwrap();
        (hooks["webhooks"][0]["status"] == "DISABLED").then_some(hooks)
    })
    .await;
    assert_eq!(listed["webhooks"][0]["webhook_id"], hook.as_str());
    assert_eq!(listed["webhooks"][0]["environment"], "LIVE");
    assert!(
        !listed.to_string().contains("whsec_"),
        "no secret for operators either"
    );
    let overview: Value = app
        .get("/admin/api/overview", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        overview["webhooks_failing"], 0,
        "disabled endpoints are not counted as failing: {overview}"
    );
    // ...but they are listed as needing someone, with their vendor.
    let troubled = &overview["webhooks_troubled"][0];
    assert_eq!(troubled["webhook_id"], hook.as_str(), "{overview}");
    assert_eq!(troubled["vendor_id"], vt.vendor.to_string());
    assert_eq!(troubled["status"], "DISABLED");
    assert_eq!(troubled["url"], receiver.url("/ops").as_str());
    assert!(troubled["disabled_reason"].is_string(), "{overview}");

    // The change's history event names the webhook event it sent.
    let detail: Value = app
        .get(&format!("/admin/api/orders/{}/LIVE/1", vt.vendor), &admin)
        .await
        .json()
        .await
        .unwrap();
    let fulfilled = detail["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "fulfilled")
        .unwrap_or_else(|| panic!("{detail}"));
    let sent = receiver.received("/ops");
    assert_eq!(
        fulfilled["details"]["webhook_event"],
        sent[0].id.as_str(),
        "{detail}"
    );

    let page: Value = app
        .get(&format!("/admin/api/webhooks/{hook}/deliveries"), &admin)
        .await
        .json()
        .await
        .unwrap();
    let delivery = page["deliveries"][0].clone();
    assert_eq!(delivery["state"], "failed", "{page}");
    assert_eq!(delivery["last_status"], 410);
    let id = delivery["delivery_id"].as_i64().unwrap();

    // Vendors cannot, unknown ids are named, and then it is sent again.
    let res = app
        .post_json(
            &format!("/admin/api/deliveries/{id}/redeliver"),
            &vt.token,
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = app
        .post_json("/admin/api/deliveries/987654/redeliver", &admin, &json!({}))
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "delivery_not_found").await;
    let res = app
        .post_json("/admin/api/deliveries/abc/redeliver", &admin, &json!({}))
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = app
        .post_json(
            &format!("/admin/api/deliveries/{id}/redeliver"),
            &admin,
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let got = wait_events(&receiver, "/ops", "order_line.completed", 2).await;
    assert_eq!(got[0].id, got[1].id);
    assert_signed(&got);
    let d = eventually("delivered on redelivery", || async {
        deliveries(&app, &vt.token, &hook)
            .await
            .into_iter()
            .find(|d| d["state"] == "delivered")
    })
    .await;
    assert_eq!(d["attempts"], 2);
    let hooks: Value = app.get("/webhooks", &vt.token).await.json().await.unwrap();
    assert_eq!(
        hooks["webhooks"][0]["status"], "ENABLED",
        "redelivery enables it again"
    );
    let audit: Value = app
        .get("/admin/api/audit", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert!(audit.to_string().contains("webhook_redeliver"), "{audit}");
}

/// A failing delivery holds the later ones of its endpoint (in order, each
/// saying what it waits behind, with no "next try" of its own), but a
/// `webhook.test` never waits; the vendor retries the blocker itself with
/// `POST /webhooks/{id}/deliveries/{event_id}/retry`, and the queue drains
/// in order.
async fn a_test_event_skips_a_blocked_queue_and_the_vendor_retries_the_blocker(backend: Backend) {
    fn hour_retries(s: &mut Settings) {
        local_hooks(s);
        s.webhooks.retry_schedule = "1h,1h".into();
    }
    let app = spawn_app_with(
        backend,
        Options {
            tweak: hour_retries,
            ..Options::default()
        },
    )
    .await;
    let receiver = Receiver::start().await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    let other = app.vendor(Environment::Live).await;
    let hook = endpoint(&app, &vt.token, &receiver, "/stuck", None).await;
    receiver.script("/stuck", &[Answer::Status(500)]);

    app.completed_order(&vt.token, 1, &[(1, &asset)]).await;
    let first = wait_events(&receiver, "/stuck", "order_line.completed", 1).await;
    let blocker = first[0].id.clone();
    app.completed_order(&vt.token, 2, &[(1, &asset)]).await;
    let list = eventually("two deliveries, the second waiting", || async {
        let list = deliveries(&app, &vt.token, &hook).await;
        (list.len() == 2 && list[0]["waiting_for"].is_string()).then_some(list)
    })
    .await;
    // Newest first: the second waits behind the first, which retries in an hour.
    assert_eq!(list[0]["waiting_for"], blocker.as_str(), "{list:?}");
    assert_eq!(list[0]["next_attempt_at"], Value::Null, "{list:?}");
    assert_eq!(list[1]["event_id"], blocker.as_str());
    assert_eq!(list[1]["waiting_for"], Value::Null);
    assert_eq!(list[1]["last_status"], 500);
    let next =
        chrono::DateTime::parse_from_rfc3339(list[1]["next_attempt_at"].as_str().unwrap()).unwrap();
    assert!(
        next > chrono::Utc::now() + chrono::Duration::minutes(30),
        "{list:?}"
    );

    // The test event goes out at once, past the blocked queue.
    let res = app
        .post_json(&format!("/webhooks/{hook}/test"), &vt.token, &json!({}))
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    wait_events(&receiver, "/stuck", "webhook.test", 1).await;
    assert_eq!(
        receiver.events("/stuck", "order_line.completed").len(),
        1,
        "the queue is still held by the failing delivery"
    );

    // Retries that cannot work: another tenant's endpoint, an unknown event,
    // an id that cannot be one.
    assert_error(
        app.post_json(
            &format!("/webhooks/{hook}/deliveries/{blocker}/retry"),
            &other.token,
            &json!({}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "webhook_not_found",
    )
    .await;
    assert_error(
        app.post_json(
            &format!("/webhooks/{hook}/deliveries/msg_0000/retry"),
            &vt.token,
            &json!({}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "delivery_not_found",
    )
    .await;
    assert_error(
        app.post_json(
            &format!("/webhooks/{hook}/deliveries/not%20an%20id/retry"),
            &vt.token,
            &json!({}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_request",
    )
    .await;

    // The vendor's retry: the blocker goes out now, then the one behind it.
    let res = app
        .post_json(
            &format!("/webhooks/{hook}/deliveries/{blocker}/retry"),
            &vt.token,
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let retried: Value = res.json().await.unwrap();
    assert_eq!(retried["event_id"], blocker.as_str(), "{retried}");
    assert_eq!(retried["state"], "pending", "{retried}");
    assert_eq!(retried["type"], "order_line.completed", "{retried}");
    let got = wait_events(&receiver, "/stuck", "order_line.completed", 3).await;
    let ids: Vec<&str> = got.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids[..2], [blocker.as_str(), blocker.as_str()], "{ids:?}");
    assert_ne!(ids[2], blocker, "then the one that waited: {ids:?}");
    assert_eq!(got[2].body["data"]["order_id"], 2);
    let list = eventually("both delivered", || async {
        let list = deliveries(&app, &vt.token, &hook).await;
        list.iter()
            .filter(|d| d["type"] != "webhook.test")
            .all(|d| d["state"] == "delivered")
            .then_some(list)
    })
    .await;
    assert!(list.iter().all(|d| d["waiting_for"].is_null()), "{list:?}");
}
