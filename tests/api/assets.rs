use assetgate::domain::Environment;
use reqwest::StatusCode;
use serde_json::Value;

use crate::both_backends;
use crate::helpers::{AssetSpec, Backend, assert_error, sample_pdf, spawn_app};

both_backends!(
    assets_list_pages_through_the_catalogue_by_asset_id,
    assets_list_refuses_bad_paging
);

async fn assets_list_pages_through_the_catalogue_by_asset_id(backend: Backend) {
    let app = spawn_app(backend).await;
    let vt = app.vendor(Environment::Sandbox).await;
    for i in 0..5 {
        app.add_asset(AssetSpec {
            title: "Asset",
            bytes: sample_pdf(100 + i),
            ..AssetSpec::default()
        })
        .await;
    }

    let mut seen = Vec::new();
    let mut next = Some(app.url("/assets/list?page_size=2"));
    let mut pages = 0;
    while let Some(url) = next {
        let res = app
            .client
            .get(&url)
            .bearer_auth(&vt.token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let page: Value = res.json().await.unwrap();
        let ids: Vec<i64> = page["assets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["asset_id"].as_i64().unwrap())
            .collect();
        assert!(ids.len() <= 2);
        assert_eq!(page["last_id"].as_i64(), ids.last().copied());
        seen.extend(ids);
        next = page["next_page"].as_str().map(str::to_owned);
        pages += 1;
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, vec![1, 2, 3, 4, 5]);

    let page: Value = app
        .get("/assets/list?last_id=3", &vt.token)
        .await
        .json()
        .await
        .unwrap();
    let item = &page["assets"][0];
    assert_eq!(item["asset_id"], 4);
    for field in [
        "title",
        "description",
        "format",
        "content_type",
        "size_bytes",
        "sha256",
        "viewable",
        "countries",
        "world",
        "min_qty",
    ] {
        assert!(item.get(field).is_some(), "AssetItem lacks {field}");
    }
    assert_eq!(item["format"], "PDF");
    assert_eq!(item["content_type"], "application/pdf");
    // HL's optional taxonomy: the HL JavaScript SDK's validator requires arrays.
    for field in ["categories", "keywords", "series", "skills"] {
        assert_eq!(item[field], serde_json::json!([]), "AssetItem.{field}");
    }
    assert_eq!(page["next_page"], Value::Null);
}

async fn assets_list_refuses_bad_paging(backend: Backend) {
    let app = spawn_app(backend).await;
    let vt = app.vendor(Environment::Live).await;
    for (query, field) in [
        ("page_size=0", "page_size"),
        ("page_size=101", "page_size"),
        ("page_size=abc", "page_size"),
        ("last_id=-1", "last_id"),
        ("last_id=1.5", "last_id"),
    ] {
        let res = app.get(&format!("/assets/list?{query}"), &vt.token).await;
        let body = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_request").await;
        assert_eq!(body["details"]["field"], field, "{query}");
    }
}
