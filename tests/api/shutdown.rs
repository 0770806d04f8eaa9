//! Graceful shutdown of the real binary: SIGTERM during a large download.

use std::time::{Duration, Instant};

use assetgate::domain::Environment;
use reqwest::StatusCode;
use secrecy::ExposeSecret as _;
use serde_json::Value;
use sha2::Digest as _;

use crate::helpers::{AssetSpec, Backend, Options, sample_pdf, spawn_app_with};

const BIN: &str = env!("CARGO_BIN_EXE_assetgate");

/// SIGTERM while a 16 MiB download is in flight (read slowly) and access
/// events are still buffered: the download completes, new connections are
/// refused, the process exits 0 within the timeout, and every access is in
/// the history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_download_finish_flushes_history_and_exits_0() {
    let app = spawn_app_with(Backend::Postgres, Options::default()).await;
    let bytes = sample_pdf(16 << 20);
    let expected = sha2::Sha256::digest(&bytes);
    let asset = app
        .add_asset(AssetSpec {
            bytes,
            file_name: "big.pdf",
            ..AssetSpec::default()
        })
        .await;
    let vt = app.vendor(Environment::Live).await;
    app.completed_order(&vt.token, 1, &[(1, &asset)]).await;
    let link = app.link(&vt.token, 1, 1).await;

    // The instance to stop: the real binary on the same database, Redis and files.
    let s = &app.settings;
    let mut child = tokio::process::Command::new(BIN)
        .env_clear()
        .env("ASSETGATE__SERVER__PORT", "0")
        .env("ASSETGATE__SERVER__SHUTDOWN_TIMEOUT_SECONDS", "20")
        .env("ASSETGATE__DATABASE__URL", s.database.url.expose_secret())
        .env("ASSETGATE__REDIS__URL", s.redis.url.expose_secret())
        .env("ASSETGATE__REDIS__KEY_PREFIX", &s.redis.key_prefix)
        .env("ASSETGATE__STORAGE__PATH", &s.storage.path)
        .env(
            "ASSETGATE__LINKS__SIGNING_KEY_FILE",
            &s.links.signing_key_file,
        )
        .env("ASSETGATE__FULFILMENT__ENABLED", "false")
        .env("ASSETGATE__LOG__LEVEL", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout =
        tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(child.stdout.take().unwrap()));
    let line = tokio::time::timeout(Duration::from_secs(30), stdout.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_owned();
    let link = link.replacen(&app.address, &base, 1);

    // Small downloads whose events are still buffered when the signal comes.
    let small = 200;
    for _ in 0..small {
        let res = app
            .client
            .get(&link)
            .header("Range", "bytes=0-99")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    }
    let mut res = app.client.get(&link).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let mut body = res.chunk().await.unwrap().unwrap().to_vec();

    let signaled = Instant::now();
    let pid = child.id().unwrap().to_string();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(kill.success());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let refused = reqwest::Client::new()
        .get(format!("{base}/health"))
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    assert!(
        refused.is_err(),
        "no new connection is accepted after SIGTERM: {refused:?}"
    );

    // The download in flight goes on to the last byte, read slowly.
    let mut chunks = 0;
    while let Some(chunk) = res.chunk().await.unwrap() {
        body.extend_from_slice(&chunk);
        chunks += 1;
        if chunks % 32 == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    assert_eq!(body.len(), 16 << 20);
    assert_eq!(sha2::Sha256::digest(&body), expected, "every byte, intact");

    let downloaded = Instant::now();
    let status = tokio::time::timeout(Duration::from_secs(25), child.wait())
        .await
        .expect("exits within the shutdown timeout")
        .unwrap();
    assert!(status.success(), "exit status {status:?}");
    println!(
        "exited {:?} after SIGTERM, {:?} after the download finished",
        signaled.elapsed(),
        downloaded.elapsed()
    );
    assert!(
        downloaded.elapsed() < Duration::from_secs(5),
        "once nothing is in flight the instance stops promptly: {:?}",
        downloaded.elapsed()
    );

    // Every access is in the history (written by the stopped instance).
    let admin = app.admin("ops").await;
    let detail: Value = app
        .get(
            &format!("/admin/api/orders/{}/LIVE/1?history_limit=1000", vt.vendor),
            &admin,
        )
        .await
        .json()
        .await
        .unwrap();
    let accesses = detail["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "access")
        .count();
    assert_eq!(accesses, small + 1, "no access event lost");
}

/// What a stopping instance gives up is taken by another at once, not after
/// the lease: fulfilment claims and webhook endpoint leases.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn released_claims_are_taken_by_another_instance_at_once() {
    let app = spawn_app_with(
        Backend::Postgres,
        Options {
            fulfilment: false,
            ..Options::default()
        },
    )
    .await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    let res = app
        .register(
            &vt.token,
            &crate::helpers::register_body(1, 1, asset.asset_id, &[]),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);

    let hour = 3_600_000;
    let claimed = app.store.claim_processing("dying", hour, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert!(
        app.store
            .claim_processing("other", hour, 10)
            .await
            .unwrap()
            .is_empty(),
        "held by the dying instance's lease"
    );
    assert_eq!(
        app.store.release_fulfilment_claims("dying").await.unwrap(),
        1
    );
    assert_eq!(
        app.store
            .claim_processing("other", hour, 10)
            .await
            .unwrap()
            .len(),
        1,
        "taken at once after the release"
    );
}
