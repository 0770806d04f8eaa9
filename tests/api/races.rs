//! Races: cancel vs fulfilment, cancel vs cancel on two instances, cancel vs
//! link minting.

use assetgate::domain::Environment;
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::Value;

use crate::both_backends;
use crate::helpers::{AssetSpec, Backend, assert_error, register_body, spawn_app, start_instance};

both_backends!(
    cancel_racing_fulfilment_always_ends_canceled,
    a_link_minted_during_a_cancel_does_not_outlive_it
);

async fn cancel_racing_fulfilment_always_ends_canceled(backend: Backend) {
    let app = spawn_app(backend).await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    for order in 1..=30 {
        assert_eq!(
            app.register(&vt.token, &register_body(order, 1, asset.asset_id, &[]))
                .await
                .status(),
            StatusCode::CREATED
        );
    }

    // The worker is fulfilling these right now; cancel them all at once.
    let queries: Vec<String> = (1..=30).map(|order| format!("order_id={order}")).collect();
    let cancels = join_all(queries.iter().map(|q| app.cancel(&vt.token, q))).await;

    assert!(cancels.iter().all(|r| r.status() == StatusCode::CREATED));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    for order in 1..=30 {
        let (status, items) = app.wait_for_order(&vt.token, order).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(items[0]["status"], "CANCELED", "order {order}");
        assert_error(
            app.download_url(&vt.token, order, 1).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "order_not_accessible",
        )
        .await;
    }
}

async fn a_link_minted_during_a_cancel_does_not_outlive_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    for order in 1..=10 {
        app.completed_order(&vt.token, order, &[(1, &asset)]).await;
        let mints = join_all((0..6).map(|_| app.download_url(&vt.token, order, 1)));
        let query = format!("order_id={order}");
        let (minted, cancel) = tokio::join!(mints, app.cancel(&vt.token, &query));
        assert_eq!(cancel.status(), StatusCode::CREATED);

        for res in minted {
            if res.status() == StatusCode::OK {
                let url = res.json::<Value>().await.unwrap()["url"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                assert_error(
                    app.client.get(&url).send().await.unwrap(),
                    StatusCode::FORBIDDEN,
                    "access_revoked",
                )
                .await;
            } else {
                assert_error(
                    res,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "order_not_accessible",
                )
                .await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_canceling_the_same_line_agree_on_one_outcome() {
    let app = spawn_app(Backend::Postgres).await;
    let b = start_instance(&app.settings).await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    for order in 1..=10 {
        app.completed_order(&vt.token, order, &[(1, &asset)]).await;
        let query = format!("/purchase/cancel?order_id={order}&order_line_id=1");
        let (a, other) = tokio::join!(
            app.client
                .delete(app.url(&query))
                .bearer_auth(&vt.token)
                .send(),
            app.client
                .delete(format!("{b}{query}"))
                .bearer_auth(&vt.token)
                .send(),
        );
        let mut statuses = [
            a.unwrap().status().as_u16(),
            other.unwrap().status().as_u16(),
        ];
        statuses.sort_unstable();
        assert_eq!(statuses, [201, 422], "order {order}");
        let lines = app
            .order_lines(
                vt.vendor,
                Environment::Live,
                assetgate::domain::OrderNumber::parse(order).unwrap(),
            )
            .await;
        let history = app.store.history(&[lines[0].line_id]).await.unwrap();
        assert_eq!(history.iter().filter(|e| e.kind == "canceled").count(), 1);
    }
}

/// Coalesced checks: while reads are continuously in flight on instance A
/// (clients hammering it), a line is canceled through instance B. Every
/// request sent to A after the 201 must be refused — a check that joined a
/// read sent before the cancel would serve it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_load_the_first_request_after_a_201_is_refused_with_checks_coalesced() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    let app = spawn_app(Backend::Postgres).await;
    assert!(app.settings.redis.coalesce_checks, "the default is tested");
    let b = start_instance(&app.settings).await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    const LINES: i64 = 12;
    let lines: Vec<(i64, &_)> = (1..=LINES).map(|i| (i, &asset)).collect();
    app.completed_order(&vt.token, 1, &lines).await;
    let mut links = Vec::new();
    for line in 1..=LINES {
        links.push(app.link(&vt.token, 1, line).await);
    }
    let links = Arc::new(links);
    let stop = Arc::new(AtomicBool::new(false));
    let hammered = Arc::new(AtomicU64::new(0));
    // Load on A: every line, all the time (canceled ones answer 403).
    let load: Vec<_> = (0..24)
        .map(|i| {
            let (client, links, stop, hammered) = (
                app.client.clone(),
                links.clone(),
                stop.clone(),
                hammered.clone(),
            );
            tokio::spawn(async move {
                let mut n = i;
                while !stop.load(Ordering::Relaxed) {
                    let _ = client.get(&links[n % links.len()]).send().await;
                    hammered.fetch_add(1, Ordering::Relaxed);
                    n += 1;
                }
            })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    for line in 1..=LINES {
        let res = app
            .client
            .delete(format!(
                "{b}/purchase/cancel?order_id=1&order_line_id={line}"
            ))
            .bearer_auth(&vt.token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED, "line {line}");
        // At once, several at a time, on the loaded instance.
        let link = &links[usize::try_from(line - 1).unwrap()];
        let answers = join_all((0..8).map(|_| app.client.get(link).send())).await;
        for res in answers {
            assert_eq!(
                res.unwrap().status(),
                StatusCode::FORBIDDEN,
                "line {line}: served after its cancel answered 201"
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    join_all(load).await;
    assert!(
        hammered.load(Ordering::Relaxed) > 500,
        "the instance was under load: {} requests",
        hammered.load(Ordering::Relaxed)
    );
}
