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
