//! Dispute evidence (SPEC §14): what each access delivered, recorded where
//! the body is written; `/purchase/access-log` as JSON and as bounded text.

use std::time::Duration;

use assetgate::domain::Environment;
use reqwest::StatusCode;
use serde_json::Value;

use crate::both_backends;
use crate::helpers::{
    AssetSpec, Backend, Options, TestApp, assert_error, eventually, spawn_app, spawn_app_with,
};

both_backends!(
    each_access_is_recorded_with_what_it_delivered,
    the_log_belongs_to_its_tenant_only,
    the_text_stays_within_its_limit_and_keeps_the_first_download_and_the_cancel,
    truncated_ips_and_hostile_user_agents_stay_safe_in_both_forms,
);

const MIB: usize = 1024 * 1024;

/// Bytes that are a PDF by their first bytes, and differ along the file.
fn file_of(len: usize) -> Vec<u8> {
    let mut bytes = b"%PDF-1.4\n".to_vec();
    bytes.extend((0..len - 9).map(|i| (i % 251) as u8));
    bytes
}

async fn log_json(app: &TestApp, token: &str, query: &str) -> Value {
    let res = app
        .get(&format!("/purchase/access-log?{query}"), token)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

async fn log_text(app: &TestApp, token: &str, query: &str) -> String {
    let res = app
        .get(&format!("/purchase/access-log?{query}&format=text"), token)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    res.text().await.unwrap()
}

/// The access events of line 1 of `order`, once `n` are recorded.
async fn accesses(app: &TestApp, token: &str, order: i64, n: usize) -> Vec<Value> {
    eventually("the accesses are recorded", || async {
        let log = log_json(app, token, &format!("order_id={order}")).await;
        let got: Vec<Value> = log["lines"][0]["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "access")
            .cloned()
            .collect();
        (got.len() >= n).then_some(got)
    })
    .await
}

async fn each_access_is_recorded_with_what_it_delivered(backend: Backend) {
    let app = spawn_app(backend).await;
    let size = 10 * MIB;
    let asset = app
        .add_asset(AssetSpec {
            bytes: file_of(size),
            ..AssetSpec::default()
        })
        .await;
    let vt = app.vendor(Environment::Live).await;
    app.completed_order(&vt.token, 1, &[(1, &asset)]).await;
    let link = app.link(&vt.token, 1, 1).await;

    // 1. A complete download.
    let res = app
        .client
        .get(&link)
        .header("User-Agent", "Evidence/1.0 (complete)")
        .send()
        .await
        .unwrap();
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(res.bytes().await.unwrap().len(), size);
    // 2. An aborted one: the client hangs up after 1 MiB.
    let mut res = app
        .client
        .get(&link)
        .header("User-Agent", "Evidence/1.0 (aborted)")
        .send()
        .await
        .unwrap();
    let mut got = 0;
    while got < MIB {
        got += res.chunk().await.unwrap().unwrap().len();
    }
    drop(res);
    // 3. A resume that finishes the file.
    let res = app
        .client
        .get(&link)
        .header("Range", format!("bytes={}-", 4 * MIB))
        .header("User-Agent", "Evidence/1.0 (resume)")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(res.bytes().await.unwrap().len(), size - 4 * MIB);
    // 4. A 304.
    let res = app
        .client
        .get(&link)
        .header("If-None-Match", &etag)
        .header("User-Agent", "Evidence/1.0 (cached)")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    // 5. Refused after the cancel.
    assert_eq!(
        app.cancel(&vt.token, "order_id=1").await.status(),
        StatusCode::CREATED
    );
    assert_error(
        app.client
            .get(&link)
            .header("User-Agent", "Evidence/1.0 (refused)")
            .send()
            .await
            .unwrap(),
        StatusCode::FORBIDDEN,
        "access_revoked",
    )
    .await;

    let events = accesses(&app, &vt.token, 1, 5).await;
    let by = |agent: &str| {
        events
            .iter()
            .find(|e| e["user_agent"] == format!("Evidence/1.0 ({agent})"))
            .unwrap_or_else(|| panic!("no {agent} access in {events:#?}"))
            .clone()
    };
    let complete = by("complete");
    assert_eq!(complete["bytes_sent"], size as i64);
    assert_eq!(complete["completed"], true);
    assert_eq!(complete["complete_file"], true);
    assert_eq!(complete["status"], 200);
    let aborted = by("aborted");
    assert_eq!(aborted["completed"], false, "{aborted}");
    assert_eq!(aborted["complete_file"], false);
    let sent = aborted["bytes_sent"].as_i64().unwrap();
    assert!(
        (MIB as i64..size as i64).contains(&sent),
        "between 1 MiB and the size: {sent}"
    );
    let resume = by("resume");
    assert_eq!(resume["bytes_sent"], (size - 4 * MIB) as i64);
    assert_eq!(resume["completed"], true);
    assert_eq!(resume["complete_file"], true, "it finished the file");
    assert_eq!(resume["range"], format!("bytes={}-", 4 * MIB));
    let cached = by("cached");
    assert_eq!(cached["status"], 304);
    assert_eq!(cached["bytes_sent"], 0);
    assert_eq!(cached["complete_file"], false);
    let refused = by("refused");
    assert_eq!(refused["status"], 403);
    assert_eq!(refused["result"], "access_revoked");
    assert_eq!(refused["bytes_sent"], 0);

    let log = log_json(&app, &vt.token, "order_id=1").await;
    assert_eq!(log["lines"][0]["complete_downloads"], 2, "{log}");
    assert_eq!(log["lines"][0]["status"], "CANCELED");
    let kinds: Vec<&str> = log["lines"][0]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for kind in [
        "registered",
        "fulfilled",
        "link_issued",
        "access",
        "canceled",
    ] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    let text = log_text(&app, &vt.token, "order_id=1").await;
    assert!(
        text.contains("Line 1: 2 complete downloads of \"Suite No. 1\" (10,485,760 bytes), first "),
        "{text}"
    );
    assert!(text.contains("interrupted"), "{text}");
    assert!(text.contains("access canceled"), "{text}");
}

async fn the_log_belongs_to_its_tenant_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let live = app.vendor(Environment::Live).await;
    app.completed_order(&live.token, 7, &[(1, &asset)]).await;
    let sandbox = app.token_for(live.vendor, Environment::Sandbox).await;
    let other = app.vendor(Environment::Live).await;
    for token in [&sandbox, &other.token] {
        for query in ["order_id=7", "order_id=7&format=text"] {
            assert_error(
                app.get(&format!("/purchase/access-log?{query}"), token)
                    .await,
                StatusCode::NOT_FOUND,
                "order_not_found",
            )
            .await;
        }
    }
    assert_error(
        app.get(
            "/purchase/access-log?order_id=7&order_line_id=9",
            &live.token,
        )
        .await,
        StatusCode::NOT_FOUND,
        "order_not_found",
    )
    .await;
    assert_error(
        app.get("/purchase/access-log?order_id=7&format=pdf", &live.token)
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_request",
    )
    .await;
}

async fn the_text_stays_within_its_limit_and_keeps_the_first_download_and_the_cancel(
    backend: Backend,
) {
    use assetgate::store::events::AccessRow;
    let app = spawn_app(backend).await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    app.completed_order(&vt.token, 9, &[(1, &asset)]).await;
    let link = app.link(&vt.token, 9, 1).await;
    // The first complete download, for real.
    let res = app
        .client
        .get(&link)
        .header("User-Agent", "FirstDownload/1.0")
        .send()
        .await
        .unwrap();
    assert_eq!(res.bytes().await.unwrap().len(), asset.size_bytes as usize);
    accesses(&app, &vt.token, 9, 1).await;
    // Then 100,000 more, written as the history writer writes them.
    let line = assetgate::domain::LineId::parse(
        app.query_strings("SELECT CAST(id AS TEXT) FROM order_lines WHERE order_number = 9")
            .await[0]
            .parse::<i64>()
            .unwrap(),
    )
    .unwrap();
    let start = assetgate::domain::now_ms() + 1000;
    let rows: Vec<AccessRow> = (0..100_000_i64)
        .map(|i| AccessRow {
            line_id: line,
            at_ms: start + i,
            data: serde_json::json!({
                "action": "download", "method": "GET", "status": 206, "result": "served",
                "range": format!("bytes={}-{}", i % 500, i % 500 + 99), "bytes_sent": 100,
                "completed": true, "client_ip": "198.51.100.7", "user_agent": "Downloader/2.0",
            })
            .to_string(),
            request_id: None,
        })
        .collect();
    app.store.record_accesses(rows, &[]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(
        app.cancel(&vt.token, "order_id=9").await.status(),
        StatusCode::CREATED
    );
    let text = log_text(&app, &vt.token, "order_id=9").await;
    let units = text.encode_utf16().count();
    assert!(units <= 18_000, "{units} UTF-16 code units");
    assert!(units > 10_000, "it uses the room it has: {units}");
    assert!(
        text.contains("FirstDownload/1.0"),
        "the first complete download stays"
    );
    assert!(text.contains("access canceled"), "the cancel stays");
    assert!(text.contains("registered by the shop"));
    assert!(
        text.contains("earlier events summarised"),
        "the middle is summarised"
    );
    assert!(
        text.contains("Line 1: 1 complete download of"),
        "{}",
        &text[..600]
    );
    // Nothing was dropped to make it fit: the history keeps every access.
    let stored = app
        .query_strings("SELECT CAST(COUNT(*) AS TEXT) FROM line_events WHERE kind = 'access'")
        .await;
    assert_eq!(stored[0], "100001");
}

async fn truncated_ips_and_hostile_user_agents_stay_safe_in_both_forms(backend: Backend) {
    let app = spawn_app_with(
        backend,
        Options {
            tweak: |s| s.history.ip = assetgate::domain::IpPolicy::Truncated,
            ..Options::default()
        },
    )
    .await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    app.completed_order(&vt.token, 3, &[(1, &asset)]).await;
    let link = app.link(&vt.token, 3, 1).await;
    // What HTTP lets through: a tab, raw UTF-8 (a right-to-left override),
    // markup, and 10 KB of it.
    let hostile = format!("Evil\tAgent\u{202e}<script>{}", "x".repeat(10_000));
    let res = app
        .client
        .get(&link)
        .header(
            "User-Agent",
            reqwest::header::HeaderValue::from_bytes(hostile.as_bytes()).unwrap(),
        )
        .header("X-Forwarded-For", "203.0.113.99")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let events = accesses(&app, &vt.token, 3, 1).await;
    let agent = events[0]["user_agent"].as_str().unwrap();
    assert_eq!(agent.chars().count(), 256, "the first 256 characters");
    assert_eq!(events[0]["ip"], "127.0.0.0", "truncated to /24");
    let text = log_text(&app, &vt.token, "order_id=3").await;
    assert!(text.contains("from 127.0.0.0"), "{text}");
    assert!(!text.contains("127.0.0.1"));
    for line in text.lines() {
        assert!(
            !line.chars().any(|c| c.is_control() || c == '\u{202e}'),
            "no control or direction characters: {line:?}"
        );
    }
}
