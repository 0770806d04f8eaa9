//! Two instances sharing one PostgreSQL database and one Redis. Only on
//! PostgreSQL + Redis: the in-process revocation set is single-instance by design.

use assetgate::domain::Environment;
use reqwest::StatusCode;

use crate::helpers::{AssetSpec, Backend, assert_error, spawn_app, start_instance};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_answered_by_instance_a_is_refused_by_instance_b_on_the_next_request() {
    let app = spawn_app(Backend::Postgres).await;
    let b = start_instance(&app.settings).await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    let lines: Vec<(i64, &_)> = (1..=10).map(|i| (i, &asset)).collect();
    app.completed_order(&vt.token, 900, &lines).await;

    for line in 1..=10 {
        let link = app.link(&vt.token, 900, line).await;
        let via_b = link.replace(&app.address, &b);
        assert_ne!(via_b, link);
        assert_eq!(
            app.client.get(&via_b).send().await.unwrap().status(),
            StatusCode::OK,
            "line {line} before cancel"
        );

        let res = app
            .cancel(&vt.token, &format!("order_id=900&order_line_id={line}"))
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
        // No sleep: the very next request, on the other instance, is refused.
        assert_error(
            app.client.get(&via_b).send().await.unwrap(),
            StatusCode::FORBIDDEN,
            "access_revoked",
        )
        .await;
        let res = app
            .client
            .get(&via_b)
            .header("Range", "bytes=0-0")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
    }
}
