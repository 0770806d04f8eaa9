//! Access windows (SPEC §12 `access_days`): links are minted for N days
//! after fulfilment, then refused with 422 `access_window_closed`; links
//! already minted expire on their own; a line keeps the window it got.

use assetgate::domain::Environment;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{AssetSpec, Backend, assert_error, spawn_app};

both_backends!(links_are_minted_only_within_the_access_window);

fn ms_of(v: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("a time: {v}")))
        .unwrap()
        .timestamp_millis()
}

async fn links_are_minted_only_within_the_access_window(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin("Ann Admin").await;
    let windowed = app
        .add_asset(AssetSpec {
            access_days: Some(2),
            ..AssetSpec::default()
        })
        .await;
    let open = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    let before = assetgate::domain::now_ms();
    app.completed_order(&vt.token, 1, &[(1, &windowed), (2, &open)])
        .await;
    let info: Value = app.info(&vt.token, 1).await.json().await.unwrap();
    let until = ms_of(&info[0]["access_until"]);
    let two_days = 2 * 86_400_000;
    assert!(
        (before + two_days..before + two_days + 60_000).contains(&until),
        "two days after fulfilment: {info}"
    );
    assert_eq!(info[1]["access_until"], Value::Null, "no window: {info}");
    let minted = app.link(&vt.token, 1, 1).await;

    // Two days later (aged here): no new link, and it says until when.
    app.execute_sql(&format!(
        "UPDATE order_lines SET access_until_ms = {} WHERE order_number = 1 AND order_line_id = 1",
        assetgate::domain::now_ms() - 1000
    ))
    .await;
    for route in ["download-url", "view-url"] {
        let refused = assert_error(
            app.get(
                &format!("/purchase/{route}?order_id=1&order_line_id=1"),
                &vt.token,
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "access_window_closed",
        )
        .await;
        assert!(refused["details"]["access_until"].is_string(), "{refused}");
    }
    // Support cannot slip past it either.
    assert_error(
        app.post_json(
            &format!("/admin/api/orders/{}/LIVE/1/lines/1/links", vt.vendor),
            &admin,
            &json!({"action": "download"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "access_window_closed",
    )
    .await;
    // The order still answers: that line without links, the other with.
    let info: Value = app.info(&vt.token, 1).await.json().await.unwrap();
    assert_eq!(info[0]["status"], "COMPLETED");
    assert_eq!(info[0]["download_url"], Value::Null, "{info}");
    assert!(info[1]["download_url"].is_string(), "{info}");
    // A link minted inside the window expires on its own TTL.
    let res = app.client.get(&minted).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    // Operators set the policy; sales fulfilled before keep their window.
    let path = format!("/admin/api/assets/{}", open.asset_id);
    assert_error(
        app.patch_json(&path, &admin, &json!({"policies": {"access_days": 0}}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_request",
    )
    .await;
    let changed: Value = app
        .patch_json(&path, &admin, &json!({"policies": {"access_days": 30}}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(changed["policies"]["access_days"], 30, "{changed}");
    let info: Value = app.info(&vt.token, 1).await.json().await.unwrap();
    assert_eq!(info[1]["access_until"], Value::Null, "order 1 keeps none");
    app.completed_order(&vt.token, 2, &[(1, &open)]).await;
    let info: Value = app.info(&vt.token, 2).await.json().await.unwrap();
    let until = ms_of(&info[0]["access_until"]);
    assert!(
        until > assetgate::domain::now_ms() + 29 * 86_400_000,
        "{info}"
    );
    let cleared: Value = app
        .patch_json(&path, &admin, &json!({"policies": {"access_days": null}}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cleared["policies"]["access_days"], Value::Null);
    // The upload takes it too.
    let form = reqwest::multipart::Form::new()
        .text("title", "Windowed")
        .text("access_days", "7")
        .part(
            "file",
            reqwest::multipart::Part::bytes(crate::helpers::sample_pdf(500)).file_name("w.pdf"),
        );
    let created: Value = app
        .client
        .post(app.url("/admin/api/assets"))
        .bearer_auth(&admin)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(created["policies"]["access_days"], 7, "{created}");
}
