//! The storage contract, on both backends: a folder of this machine (with
//! SQLite + in-process revocations, the embedded default) and a bucket of a
//! real S3-protocol server (`s3s-fs`, with PostgreSQL + Redis, as a fleet
//! runs). Downloads, ranges, HEAD, ETags and refusals behave alike; a
//! download never serves bytes that are not the signed file, and the
//! in-memory copy of a small file is only ever the right one. Then what only
//! a bucket can do wrong: read more than the range, fail mid-body, be away.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use assetgate::domain::Environment;
use reqwest::StatusCode;

use crate::both_stores;
use crate::helpers::{
    AssetSpec, Backend, Catalogue as Store, Options, TestApp, assert_error, sample_pdf,
    spawn_app_with, store_app as app,
};

both_stores!(
    downloads_ranges_heads_and_etags_behave_alike,
    a_missing_file_is_refused_for_get_and_head,
    a_damaged_small_file_is_never_served_nor_cached_and_serves_again_once_restored,
    a_large_file_of_the_wrong_size_is_not_served,
);

/// Bytes that differ at every offset (a shifted range would show).
fn numbered(len: usize) -> Vec<u8> {
    let mut bytes = b"%PDF-1.4\n".to_vec();
    bytes.extend((0..len - 9).map(|i| (i % 251) as u8));
    bytes
}

async fn sold(app: &TestApp, bytes: Vec<u8>) -> (assetgate::store::assets::Asset, String) {
    let asset = app
        .add_asset(AssetSpec {
            bytes,
            ..AssetSpec::default()
        })
        .await;
    let vt = app.vendor(Environment::Live).await;
    app.completed_order(&vt.token, 1, &[(1, &asset)]).await;
    let link = app.link(&vt.token, 1, 1).await;
    (asset, link)
}

async fn ranged(app: &TestApp, link: &str, range: &str) -> reqwest::Response {
    app.client
        .get(link)
        .header("Range", range)
        .send()
        .await
        .unwrap()
}

async fn downloads_ranges_heads_and_etags_behave_alike(store: Store) {
    let app = app(store).await;
    let data = numbered(3 * 1024 * 1024 + 17);
    let size = data.len();
    let (asset, link) = sold(&app, data.clone()).await;
    let etag = format!("\"{}\"", asset.sha256);

    let res = app.client.get(&link).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["etag"].to_str().unwrap(), etag);
    assert_eq!(res.headers()["accept-ranges"], "bytes");
    assert_eq!(res.headers()["content-length"], size.to_string().as_str());
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    assert_eq!(res.bytes().await.unwrap().as_ref(), &data[..], "whole file");

    let res = app.client.head(&link).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-length"], size.to_string().as_str());
    assert!(res.bytes().await.unwrap().is_empty(), "HEAD sends no body");

    let res = app
        .client
        .get(&link)
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);

    for (range, start, end) in [
        ("bytes=10-19", 10, 20),
        ("bytes=2000000-", 2_000_000, size),
        ("bytes=-100", size - 100, size),
        ("bytes=1048570-1048580", 1_048_570, 1_048_581),
    ] {
        let res = ranged(&app, &link, range).await;
        assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(
            res.headers()["content-range"].to_str().unwrap(),
            format!("bytes {start}-{}/{size}", end - 1),
            "{range}"
        );
        assert_eq!(
            res.bytes().await.unwrap().as_ref(),
            &data[start..end],
            "{range}"
        );
    }
    let res = ranged(&app, &link, "bytes=99999999-").await;
    assert_eq!(res.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    let res = app
        .client
        .get(&link)
        .header("Range", "bytes=0-9")
        .header("If-Range", "\"another\"")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "If-Range mismatch: whole file"
    );
    assert_eq!(res.bytes().await.unwrap().len(), size);

    // A small file (served from memory once verified) behaves the same.
    let small = numbered(1000);
    let small_asset = app
        .add_asset(AssetSpec {
            bytes: small.clone(),
            ..AssetSpec::default()
        })
        .await;
    let vt = app.vendor(Environment::Sandbox).await;
    app.completed_order(&vt.token, 2, &[(1, &small_asset)])
        .await;
    let small_link = app.link(&vt.token, 2, 1).await;
    for _ in 0..2 {
        let res = ranged(&app, &small_link, "bytes=990-").await;
        assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(res.bytes().await.unwrap().as_ref(), &small[990..]);
    }
    let res = app.client.head(&small_link).send().await.unwrap();
    assert_eq!(res.headers()["content-length"], "1000");
}

async fn a_missing_file_is_refused_for_get_and_head(store: Store) {
    let app = app(store).await;
    let (asset, link) = sold(&app, numbered(200_000)).await;
    std::fs::remove_file(app.asset_path(&asset)).unwrap();
    assert_error(
        app.client.get(&link).send().await.unwrap(),
        StatusCode::NOT_FOUND,
        "file_unavailable",
    )
    .await;
    let res = app.client.head(&link).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

async fn a_damaged_small_file_is_never_served_nor_cached_and_serves_again_once_restored(
    store: Store,
) {
    let app = app(store).await;
    let original = sample_pdf(1000);
    let (asset, link) = sold(&app, original.clone()).await;
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

async fn a_large_file_of_the_wrong_size_is_not_served(store: Store) {
    let app = app(store).await;
    let original = sample_pdf(300_000);
    let (asset, link) = sold(&app, original.clone()).await;
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

async fn through_proxy() -> TestApp {
    let options = Options {
        s3: true,
        s3_proxy: true,
        ..Options::default()
    };
    spawn_app_with(Backend::Postgres, options).await
}

/// `Range: bytes=N-` asks the store for those bytes only: what the store
/// sends is the tail (plus headers), not the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ranged_download_reads_only_its_range_from_the_store() {
    let app = through_proxy().await;
    let data = numbered(24 * 1024 * 1024);
    let (_, link) = sold(&app, data.clone()).await;
    let proxy = app.s3_proxy.as_ref().unwrap();
    let start = data.len() - 300_000;

    proxy.downstream.store(0, Ordering::SeqCst);
    let res = ranged(&app, &link, &format!("bytes={start}-")).await;
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(res.bytes().await.unwrap().as_ref(), &data[start..]);
    let read = proxy.downstream.load(Ordering::SeqCst);
    assert!(
        (300_000..300_000 + 64 * 1024).contains(&read),
        "the store sent {read} bytes for a 300,000-byte range of a 24 MiB file"
    );
}

/// A store that fails mid-body: the download is cut short (the client sees
/// an error or fewer bytes than announced), and what arrived is the file's
/// own beginning — never other or padded bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_failing_mid_body_cuts_the_download_never_pads_it() {
    let app = through_proxy().await;
    let data = numbered(8 * 1024 * 1024);
    let (_, link) = sold(&app, data.clone()).await;
    let proxy = app.s3_proxy.as_ref().unwrap();
    proxy.cut_after.store(1024 * 1024, Ordering::SeqCst);

    let mut res = app.client.get(&link).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.content_length(), Some(data.len() as u64));
    let mut got = Vec::new();
    let mut failed = false;
    loop {
        match tokio::time::timeout(Duration::from_secs(60), res.chunk()).await {
            Ok(Ok(Some(chunk))) => got.extend_from_slice(&chunk),
            Ok(Ok(None)) => break,
            Ok(Err(_)) => {
                failed = true;
                break;
            }
            Err(_) => panic!("the download hung instead of being cut"),
        }
    }
    assert!(
        got.len() < data.len(),
        "the whole file arrived through a cut store"
    );
    assert!(failed, "a short body must end in an error, not a clean end");
    assert_eq!(
        &got[..],
        &data[..got.len()],
        "what arrived is the file's beginning"
    );

    // The store is whole again: the same link serves the file.
    proxy.cut_after.store(u64::MAX, Ordering::SeqCst);
    let res = app.client.get(&link).send().await.unwrap();
    assert_eq!(res.bytes().await.unwrap().as_ref(), &data[..]);
}

/// The store stopped: `/access` answers 503 `storage_unavailable` (JSON,
/// before any byte) within seconds, `/health` names the store, and both
/// recover by themselves once it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_store_is_a_503_before_any_byte_and_service_resumes() {
    let mut app = app(Store::S3).await;
    let data = numbered(2 * 1024 * 1024);
    let (_, link) = sold(&app, data.clone()).await;

    app.s3.as_mut().unwrap().stop();
    let started = Instant::now();
    let res = app.client.get(&link).send().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the refusal took {:?}",
        started.elapsed()
    );
    assert_eq!(res.headers()["retry-after"], "2");
    assert_error(res, StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable").await;
    let res = app.client.head(&link).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);

    let health = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::SERVICE_UNAVAILABLE);
    let checks: serde_json::Value = health.json().await.unwrap();
    let storage = checks
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "storage")
        .cloned()
        .unwrap();
    assert_eq!(storage["health"], false, "{checks}");

    app.s3.as_mut().unwrap().start_again();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let res = app.client.get(&link).send().await.unwrap();
        if res.status() == StatusCode::OK {
            assert_eq!(res.bytes().await.unwrap().as_ref(), &data[..]);
            break;
        }
        assert!(Instant::now() < deadline, "service did not resume");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        app.client
            .get(app.url("/health"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

/// Yields `ok` bytes, then fails (a client that goes away mid-upload).
fn failing_after(ok: usize) -> impl tokio::io::AsyncRead + Unpin + Send {
    let chunks = (0..ok.div_ceil(65_536))
        .map(move |i| Ok(bytes::Bytes::from(vec![b'x'; 65_536.min(ok - i * 65_536)])))
        .chain(std::iter::once(Err(std::io::Error::other(
            "connection reset",
        ))));
    tokio_util::io::StreamReader::new(futures_util::stream::iter(chunks))
}

/// An upload into the bucket that fails half-way leaves no object behind
/// (the multipart upload is aborted, the temporary object removed); the same
/// file uploaded twice is one object at its content address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_into_the_bucket_leave_nothing_half_written_and_are_stored_once() {
    let app = app(Store::S3).await;
    let server = app.s3.as_ref().unwrap();
    let storage = &app.storage;

    let err = storage
        .import_reader(failing_after(20 * 1024 * 1024), 30 * 1024 * 1024, |_, _| {})
        .await
        .expect_err("a failed upload is an error");
    assert!(format!("{err:#}").contains("connection reset"), "{err:#}");
    let objects: Vec<String> = server
        .keys()
        .into_iter()
        .filter(|k| k.starts_with("assets/"))
        .collect();
    assert!(objects.is_empty(), "left behind: {objects:?}");

    let data = numbered(12 * 1024 * 1024);
    let mut stored = Vec::new();
    for _ in 0..2 {
        let reader = std::io::Cursor::new(data.clone());
        stored.push(
            storage
                .import_reader(reader, data.len() as u64, |_, _| {})
                .await
                .unwrap(),
        );
    }
    assert_eq!(stored[0], stored[1]);
    let sha = stored[0].sha256.as_str().to_owned();
    let objects: Vec<String> = server
        .keys()
        .into_iter()
        .filter(|k| k.starts_with("assets/"))
        .collect();
    assert_eq!(objects, vec![format!("assets/{}/{sha}", &sha[..2])]);
    assert_eq!(std::fs::read(server.object_path(&sha)).unwrap(), data);
    storage
        .verify(&stored[0].sha256, data.len() as u64)
        .await
        .unwrap();
}

/// `delivery.mode = redirect`: after every check, a 303 to a presigned URL
/// (its lifetime by the file's size, its name and type signed in). Its
/// weaker guarantee, as documented: after a cancel every new request
/// through the link is refused, while a presigned URL handed out before
/// works until it expires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_delivery_hands_out_presigned_urls_and_refuses_the_link_after_a_cancel() {
    let app = crate::helpers::store_app_with(Store::S3, |s| {
        s.delivery.mode = assetgate::config::DeliveryMode::Redirect;
    })
    .await;
    let data = numbered(2 * 1024 * 1024);
    let asset = app
        .add_asset(AssetSpec {
            bytes: data.clone(),
            ..AssetSpec::default()
        })
        .await;
    let vt = app.vendor(Environment::Live).await;
    app.completed_order(&vt.token, 1, &[(1, &asset)]).await;
    let link = app.link(&vt.token, 1, 1).await;

    let res = app.client.get(&link).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["cache-control"], "private, no-store");
    let url = res.headers()["location"].to_str().unwrap().to_owned();
    let server = app.s3.as_ref().unwrap();
    assert!(url.starts_with(&server.endpoint()), "{url}");
    assert!(
        url.contains("X-Amz-Expires=60&"),
        "max(60 s, 2 MiB at 50 KiB/s): {url}"
    );
    assert!(url.contains(asset.sha256.as_str()), "{url}");

    let res = app.client.get(&url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // The store answers with the gateway's name, type and caching, signed in.
    assert_eq!(
        res.headers()["content-disposition"],
        "attachment; filename=\"suite.pdf\"; filename*=UTF-8''suite.pdf"
    );
    assert_eq!(res.headers()["content-type"], "application/pdf");
    assert_eq!(res.headers()["cache-control"], "private, no-store");
    assert_eq!(res.bytes().await.unwrap().as_ref(), &data[..]);
    let res = ranged(&app, &url, "bytes=100-199").await;
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(res.bytes().await.unwrap().as_ref(), &data[100..200]);
    // The signature covers the answer's headers: a changed name is refused by the store.
    let forged = url.replace(
        "response-content-type=",
        "response-content-type=text%2Fhtml%3B",
    );
    assert_eq!(
        app.client.get(&forged).send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );

    let res = app
        .client
        .get(&link)
        .header("If-None-Match", format!("\"{}\"", asset.sha256))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::NOT_MODIFIED,
        "the ETag needs no store"
    );

    // Canceled: the link refuses every new request; the URL handed out before
    // keeps working until it expires (the documented price of `redirect`).
    assert_eq!(
        app.cancel(&vt.token, "order_id=1").await.status(),
        StatusCode::CREATED
    );
    assert_error(
        app.client.get(&link).send().await.unwrap(),
        StatusCode::FORBIDDEN,
        "access_revoked",
    )
    .await;
    assert_eq!(
        app.client.get(&url).send().await.unwrap().status(),
        StatusCode::OK
    );

    // The console says what "redirect" costs, next to the catalogue.
    let admin = app.admin("Ann Support").await;
    let res = app
        .client
        .post(app.url("/admin/login"))
        .form(&[("token", admin.as_str()), ("next", "/admin/assets")])
        .send()
        .await
        .unwrap();
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    let session = cookie.split(';').next().unwrap().to_owned();
    let page = app
        .client
        .get(app.url("/admin/assets"))
        .header("Cookie", session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("keeps working until it expires") && page.contains("at most 3600 s"),
        "{page}"
    );
}
