//! Fault injection on a private redis-server per test: flush, kill, pause,
//! restart. The gateway must fail closed (503) and recover by itself, and a
//! revoked link must never serve in between.

use assetgate::domain::Environment;
use assetgate::revocation::{RedisRevocations, RevocationStore as _};
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{
    AssetSpec, Backend, Options, PrivateRedis, TestApp, VendorToken, assert_error, eventually,
    spawn_app_with,
};

async fn setup(redis: &PrivateRedis, ttl: Option<u64>) -> (TestApp, VendorToken, String, String) {
    let app = spawn_app_with(
        Backend::Postgres,
        Options {
            redis_url: Some(redis.url()),
            link_ttl_seconds: ttl,
            ..Options::default()
        },
    )
    .await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    app.completed_order(&vt.token, 1, &[(1, &asset), (2, &asset)])
        .await;
    let revoked = app.link(&vt.token, 1, 1).await;
    let live = app.link(&vt.token, 1, 2).await;
    (app, vt, revoked, live)
}

async fn status(app: &TestApp, url: &str) -> StatusCode {
    app.client.get(url).send().await.unwrap().status()
}

/// Waits until `live` serves again, checking on every round that `revoked` never does.
async fn recovers_without_serving(app: &TestApp, live: &str, revoked: &str) {
    eventually("access to resume", || async {
        let r = status(app, revoked).await;
        assert!(
            r == StatusCode::FORBIDDEN || r == StatusCode::SERVICE_UNAVAILABLE,
            "revoked link answered {r}"
        );
        (status(app, live).await == StatusCode::OK).then_some(())
    })
    .await;
    assert_error(
        app.client.get(revoked).send().await.unwrap(),
        StatusCode::FORBIDDEN,
        "access_revoked",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flushed_redis_is_noticed_on_the_next_check_then_rebuilt_from_the_database() {
    let redis = PrivateRedis::start().await;
    let (app, vt, revoked, live) = setup(&redis, None).await;
    assert_eq!(
        app.cancel(&vt.token, "order_id=1&order_line_id=1")
            .await
            .status(),
        StatusCode::CREATED
    );

    redis
        .flush_and_hold_rebuild(&app.settings.redis.key_prefix, 1500)
        .await;

    // The very next check sees the loss: fail closed, for the revoked and the live line.
    assert_error(
        app.client.get(&live).send().await.unwrap(),
        StatusCode::SERVICE_UNAVAILABLE,
        "revocation_unavailable",
    )
    .await;
    assert_error(
        app.client.get(&revoked).send().await.unwrap(),
        StatusCode::SERVICE_UNAVAILABLE,
        "revocation_unavailable",
    )
    .await;
    let health: Value = app
        .client
        .get(app.url("/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health[1]["health"], false);

    // Once the lock lapses an instance rebuilds by itself; the revoked line stays revoked.
    recovers_without_serving(&app, &live, &revoked).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_redis_fails_access_closed_while_the_api_keeps_working_then_recovers() {
    let mut redis = PrivateRedis::start().await;
    let (app, vt, revoked, live) = setup(&redis, None).await;
    assert_eq!(
        app.cancel(&vt.token, "order_id=1&order_line_id=1")
            .await
            .status(),
        StatusCode::CREATED
    );

    redis.kill();

    assert_error(
        app.client.get(&live).send().await.unwrap(),
        StatusCode::SERVICE_UNAVAILABLE,
        "revocation_unavailable",
    )
    .await;
    let res = app.client.head(&revoked).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let res = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let health: Value = res.json().await.unwrap();
    assert_eq!(
        health[1],
        serde_json::json!({"name": "revocation_store", "health": false})
    );
    assert_eq!(health[0]["health"], true);
    // Vendor endpoints that do not need Redis keep working.
    assert_eq!(
        app.get("/assets/list", &vt.token).await.status(),
        StatusCode::OK
    );
    assert_eq!(app.info(&vt.token, 1).await.status(), StatusCode::OK);
    assert_eq!(
        app.download_url(&vt.token, 1, 2).await.status(),
        StatusCode::OK
    );
    // A browser gets a page that says to retry.
    let res = app
        .client
        .get(&live)
        .header("Accept", "text/html")
        .send()
        .await
        .unwrap();
    assert!(res.text().await.unwrap().contains("retry"));

    redis.restart().await; // empty memory: the set must be rebuilt
    recovers_without_serving(&app, &live, &revoked).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_during_an_outage_answers_503_and_its_link_never_serves_again() {
    let redis = PrivateRedis::start().await;
    let (app, vt, revoked, live) = setup(&redis, None).await;

    // Redis stops answering but keeps its memory (and its ready marker).
    redis.cmd(&["CLIENT", "PAUSE", "1500", "ALL"]).await;
    let cancel = app
        .client
        .delete(app.url("/purchase/cancel?order_id=1&order_line_id=1"))
        .bearer_auth(&vt.token)
        .header("Idempotency-Key", "refund-1")
        .send()
        .await
        .unwrap();
    assert_error(
        cancel,
        StatusCode::SERVICE_UNAVAILABLE,
        "revocation_unavailable",
    )
    .await;
    // The cancel is committed in the database regardless.
    let (_, items) = app.wait_for_order(&vt.token, 1).await;
    assert_eq!(items[0]["status"], "CANCELED");

    // From now on the canceled link must never serve: 503 while Redis is away,
    // 403 once the outbox has been pushed — before access resumes.
    recovers_without_serving(&app, &live, &revoked).await;

    // The shop's retry with the same key now gets its 201.
    let retry = app
        .client
        .delete(app.url("/purchase/cancel?order_id=1&order_line_id=1"))
        .bearer_auth(&vt.token)
        .header("Idempotency-Key", "refund-1")
        .send()
        .await
        .unwrap();
    assert_eq!(retry.status(), StatusCode::CREATED);
    let body: Value = retry.json().await.unwrap();
    assert_eq!(body[0]["status"], "CANCELED");
    assert_eq!(body[1]["status"], "COMPLETED");
    assert!(
        app.store.pending_revocations().await.unwrap().is_empty(),
        "outbox drained"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_while_redis_is_dead_is_enforced_after_it_restarts_empty() {
    let mut redis = PrivateRedis::start().await;
    let (app, vt, revoked, live) = setup(&redis, None).await;

    redis.kill();
    assert_error(
        app.cancel(&vt.token, "order_id=1&order_line_id=1").await,
        StatusCode::SERVICE_UNAVAILABLE,
        "revocation_unavailable",
    )
    .await;
    assert_eq!(app.store.pending_revocations().await.unwrap().len(), 1);
    assert_eq!(
        status(&app, &revoked).await,
        StatusCode::SERVICE_UNAVAILABLE
    );

    redis.restart().await;
    recovers_without_serving(&app, &live, &revoked).await;
    eventually("outbox drained", || async {
        app.store
            .pending_revocations()
            .await
            .unwrap()
            .is_empty()
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_entries_expire_with_the_links_they_could_block() {
    let redis = PrivateRedis::start().await;
    let (app, vt, revoked, _) = setup(&redis, Some(2)).await;
    let set = RedisRevocations::new(
        &redis.url(),
        &app.settings.redis.key_prefix,
        std::time::Duration::from_secs(1),
        "test",
    )
    .unwrap();
    set.refresh().await;

    assert_eq!(
        app.cancel(&vt.token, "order_id=1").await.status(),
        StatusCode::CREATED
    );
    assert_eq!(set.entry_count().await, Ok(2));
    assert_eq!(status(&app, &revoked).await, StatusCode::FORBIDDEN);

    // Once every link that could need them has expired, the entries are gone…
    eventually("entries to expire", || async {
        (set.entry_count().await == Ok(0)).then_some(())
    })
    .await;
    assert_error(
        app.client.get(&revoked).send().await.unwrap(),
        StatusCode::GONE,
        "link_expired",
    )
    .await;
    // …and a rebuild does not bring them back.
    redis
        .flush_and_hold_rebuild(&app.settings.redis.key_prefix, 1)
        .await;
    eventually("rebuild", || async {
        (set.state().await == assetgate::revocation::SetState::Complete).then_some(())
    })
    .await;
    assert_eq!(set.entry_count().await, Ok(0));
    assert_eq!(
        app.store
            .active_revocations(assetgate::domain::now_ms())
            .await
            .unwrap()
            .len(),
        0
    );
}

/// Redis loses its memory twice in quick succession: once to start a rebuild,
/// once while it runs. A revocation that landed between the rebuild's read of
/// the database and the second loss is in neither the read nor Redis, so that
/// rebuild must not declare the set complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_straddling_a_second_flush_does_not_declare_the_set_complete() {
    use assetgate::domain::{LineId, now_ms};
    use assetgate::revocation::{Revocation, SetState};

    let redis = PrivateRedis::start().await;
    let instance = |name: &str| {
        RedisRevocations::new(
            &redis.url(),
            "straddle",
            std::time::Duration::from_secs(1),
            name,
        )
        .unwrap()
    };
    let (set, other) = (instance("a"), instance("b"));
    // Each learns which primary it talks to (the maintainer does this first).
    set.refresh().await;
    other.refresh().await;
    let canceled = Revocation {
        line: LineId::parse(7).unwrap(),
        until_ms: now_ms() + 60_000,
    };

    let ticket = set.begin_rebuild().await.unwrap().expect("claim is free");
    assert_eq!(
        other.begin_rebuild().await,
        Ok(None),
        "one instance rebuilds at a time"
    );
    // The database was read (nothing canceled yet); then a cancel lands in
    // Redis, and Redis loses its memory again before the rebuild finishes.
    set.revoke(&[canceled]).await.unwrap();
    redis.cmd(&["FLUSHALL"]).await;
    assert_eq!(set.finish_rebuild(ticket, &[]).await, Ok(false));
    assert_eq!(set.state().await, SetState::Incomplete);

    // The next rebuild reads the database afresh (which now has the cancel).
    let ticket = other.begin_rebuild().await.unwrap().expect("claim is free");
    assert_eq!(other.finish_rebuild(ticket, &[canceled]).await, Ok(true));
    assert_eq!(set.state().await, SetState::Complete);
    assert_eq!(set.entry_count().await, Ok(1));
}

/// A primary whose replication id changed (a promotion or restart in place)
/// may have lost what this instance wrote to it, even if it is marked
/// complete: the store asks the maintainer to write every active revocation
/// again, and only once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_replication_id_asks_for_every_revocation_to_be_written_again() {
    let redis = PrivateRedis::start().await;
    let set = RedisRevocations::new(
        &redis.url(),
        &format!("agtest-{}", uuid::Uuid::new_v4().simple()),
        std::time::Duration::from_secs(1),
        "test",
    )
    .unwrap();
    set.refresh().await;
    assert!(!set.needs_repush(), "the first primary seen is not a move");
    set.refresh().await;
    assert!(!set.needs_repush(), "the same primary again is not a move");
    redis.cmd(&["DEBUG", "CHANGE-REPL-ID"]).await;
    set.refresh().await;
    assert!(set.needs_repush(), "a new replication id is a move");
    set.refresh().await;
    assert!(set.needs_repush(), "asked until the maintainer wrote them");
    set.repushed();
    set.refresh().await;
    assert!(!set.needs_repush());
}
