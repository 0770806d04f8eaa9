//! Asset files that are damaged, restored or checked: a download never serves
//! bytes that are not the signed file, and the in-memory copy of a small file
//! is only ever the right one.

use assetgate::domain::Environment;
use reqwest::StatusCode;

use crate::both_backends;
use crate::helpers::{AssetSpec, Backend, assert_error, sample_pdf, spawn_app};

both_backends!(
    a_damaged_small_file_is_never_served_nor_cached_and_serves_again_once_restored,
    a_large_file_of_the_wrong_size_is_not_served,
);

async fn a_damaged_small_file_is_never_served_nor_cached_and_serves_again_once_restored(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let original = sample_pdf(1000);
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    app.completed_order(&vt.token, 1, &[(1, &asset)]).await;
    let link = app.link(&vt.token, 1, 1).await;
    let path = app.asset_path(&asset);

    // Same size, other bytes: the digest would lie.
    let mut corrupted = original.clone();
    corrupted[500] ^= 0xff;
    std::fs::write(&path, &corrupted).unwrap();
    assert_error(
        app.client.get(&link).send().await.unwrap(),
        StatusCode::NOT_FOUND,
        "file_unavailable",
    )
    .await;
    // Truncated: a short read.
    std::fs::write(&path, &original[..400]).unwrap();
    assert_error(
        app.client.get(&link).send().await.unwrap(),
        StatusCode::NOT_FOUND,
        "file_unavailable",
    )
    .await;

    // Restored: the right bytes, under the right ETag — nothing bad was cached.
    std::fs::write(&path, &original).unwrap();
    let res = app.client.get(&link).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["etag"].to_str().unwrap(),
        format!("\"{}\"", asset.sha256)
    );
    assert_eq!(res.bytes().await.unwrap().as_ref(), &original[..]);
}

async fn a_large_file_of_the_wrong_size_is_not_served(backend: Backend) {
    let app = spawn_app(backend).await;
    let original = sample_pdf(300_000);
    let asset = app
        .add_asset(AssetSpec {
            bytes: original.clone(),
            ..AssetSpec::default()
        })
        .await;
    let vt = app.vendor(Environment::Live).await;
    app.completed_order(&vt.token, 1, &[(1, &asset)]).await;
    let link = app.link(&vt.token, 1, 1).await;
    let path = app.asset_path(&asset);

    std::fs::write(&path, &original[..100_000]).unwrap();
    assert_error(
        app.client.get(&link).send().await.unwrap(),
        StatusCode::NOT_FOUND,
        "file_unavailable",
    )
    .await;
    std::fs::write(&path, &original).unwrap();
    let res = app.client.get(&link).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.bytes().await.unwrap().len(), original.len());
}
