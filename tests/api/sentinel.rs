//! Redis Sentinel: a primary, two replicas and three sentinels, all real
//! `redis-server` processes of this test on free ports.
//!
//! * With the default `redis.min_replica_acks = all`, a cancel answers 201 only
//!   once every replica holds the revocation: with the replicas cut off it
//!   answers 503, and the line never serves, through the fail-over and after.
//! * With `min_replica_acks = 0` (the second layer alone): the primary is
//!   killed right after a cancel answered 201, at a moment when the replicas
//!   have not received the revocation; Sentinel promotes one of them. The
//!   revoked link must never serve again, on either of two gateway instances.

use std::time::{Duration, Instant};

use assetgate::domain::Environment;
use reqwest::StatusCode;

use crate::helpers::{
    AssetSpec, Backend, Options, TestApp, assert_error, spawn_app_with, start_instance,
};
use crate::sentinel_group::{MASTER, SentinelGroup, query};

/// Each round is a real fail-over (about 5 s here); the interleaving is
/// randomised (which instance answers the cancel, how long before the kill).
const ROUNDS: i64 = 8;

async fn status(app: &TestApp, url: &str) -> StatusCode {
    app.client.get(url).send().await.unwrap().status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_answered_201_survives_killing_the_primary_before_it_replicated() {
    let mut group = SentinelGroup::start().await;
    let app = spawn_app_with(
        Backend::Postgres,
        Options {
            redis_sentinels: Some((group.addresses(), MASTER.to_owned())),
            // Without waiting for replicas: the replication-id marker alone
            // must keep a promoted replica that missed the write from serving.
            tweak: |s| "0".clone_into(&mut s.redis.min_replica_acks),
            ..Options::default()
        },
    )
    .await;
    let b = start_instance(&app.settings).await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    let lines: Vec<(i64, &_)> = (1..=ROUNDS + 1).map(|i| (i, &asset)).collect();
    app.completed_order(&vt.token, 1, &lines).await;
    let mut links = Vec::new();
    for line in 1..=ROUNDS + 1 {
        let a = app.link(&vt.token, 1, line).await;
        let via_b = a.replace(&app.address, &b);
        links.push([a, via_b]);
    }
    // Line ROUNDS + 1 is never canceled: it shows when access has resumed.
    let live = links.pop().unwrap();
    let line_key = |line: i64| format!("{{{}}}:rev:l:{line}", app.settings.redis.key_prefix);

    let mut lagging_rounds = 0;
    for round in 1..=ROUNDS {
        let primary = group.settled().await;
        for link in &live {
            let deadline = Instant::now() + Duration::from_secs(20);
            while status(&app, link).await != StatusCode::OK {
                assert!(
                    Instant::now() < deadline,
                    "round {round}: access did not serve"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        group.cut_off_replicas(primary).await;
        let via = if rand::random::<bool>() {
            &app.address
        } else {
            &b
        };
        let res = app
            .client
            .delete(format!(
                "{via}/purchase/cancel?order_id=1&order_line_id={round}"
            ))
            .bearer_auth(&vt.token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED, "round {round}");
        let pause = rand::random_range(0..20);
        if pause > 0 {
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
        group.server(primary).kill();
        // What the replicas hold now is all a promoted one can have.
        let mut replicas_have_it = 0;
        for replica in group
            .servers
            .iter()
            .map(|s| s.port)
            .filter(|&p| p != primary)
        {
            if let Ok(redis::Value::Int(1)) = query(replica, &["EXISTS", &line_key(round)]).await {
                replicas_have_it += 1;
            }
        }
        eprintln!(
            "round {round}: cancel via {via}, primary {primary} killed {pause} ms after the 201; \
             {replicas_have_it} of 2 replicas had the revocation"
        );
        if replicas_have_it == 0 {
            lagging_rounds += 1;
        }

        // Until the fail-over is over and the set rebuilt, the revoked link is
        // refused (403, or 503 while in doubt) by both instances — never served.
        let revoked = &links[usize::try_from(round - 1).unwrap()];
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            for link in revoked {
                let s = status(&app, link).await;
                assert!(
                    s == StatusCode::FORBIDDEN || s == StatusCode::SERVICE_UNAVAILABLE,
                    "round {round}: the revoked link answered {s}"
                );
            }
            if status(&app, &live[0]).await == StatusCode::OK
                && status(&app, &live[1]).await == StatusCode::OK
            {
                break;
            }
            if Instant::now() > deadline {
                panic!(
                    "round {round}: no fail-over within 30 s\n{}",
                    group.dump().await
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Every link canceled so far, on both instances: refused.
        for link in links.iter().take(usize::try_from(round).unwrap()).flatten() {
            assert_error(
                app.client.get(link).send().await.unwrap(),
                StatusCode::FORBIDDEN,
                "access_revoked",
            )
            .await;
        }

        // The old primary comes back as a replica of the new one.
        group.replace(primary).await;
    }
    // Most rounds really killed a primary whose last revocation no replica had.
    assert!(
        lagging_rounds >= ROUNDS / 2,
        "only {lagging_rounds} of {ROUNDS} rounds had lagging replicas"
    );
}

/// Polls until `link` on both instances answers `want`; every answer on the
/// way must be one of `allowed`.
async fn until_both(
    app: &TestApp,
    links: &[String],
    want: StatusCode,
    allowed: &[StatusCode],
    what: &str,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut all = true;
        for link in links {
            let s = status(app, link).await;
            assert!(allowed.contains(&s), "{what}: {link} answered {s}");
            all &= s == want;
        }
        if all {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: not {want} within 30 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_default_a_cancel_answers_201_only_once_every_replica_holds_the_revocation() {
    let mut group = SentinelGroup::start().await;
    let app = spawn_app_with(
        Backend::Postgres,
        Options {
            redis_sentinels: Some((group.addresses(), MASTER.to_owned())),
            ..Options::default()
        },
    )
    .await;
    assert_eq!(
        app.settings.redis.min_replica_acks, "all",
        "the default is tested"
    );
    let b = start_instance(&app.settings).await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    let order: Vec<(i64, &_)> = (1..=8).map(|i| (i, &asset)).collect();
    app.completed_order(&vt.token, 1, &order).await;
    let mut links = Vec::new();
    for line in 1..=4 {
        let a = app.link(&vt.token, 1, line).await;
        let via_b = a.replace(&app.address, &b);
        links.push(vec![a, via_b]);
    }
    let (ok, forbidden, unavailable) = (
        StatusCode::OK,
        StatusCode::FORBIDDEN,
        StatusCode::SERVICE_UNAVAILABLE,
    );
    let primary = group.settled().await;
    until_both(&app, &links[2], ok, &[ok, unavailable], "start-up").await;
    let line_key = |line: i64| format!("{{{}}}:rev:l:{line}", app.settings.redis.key_prefix);
    let replicas: Vec<u16> = group
        .servers
        .iter()
        .map(|s| s.port)
        .filter(|&p| p != primary)
        .collect();

    // Every replica attached: 201, and at that moment both replicas hold it.
    let res = app.cancel(&vt.token, "order_id=1&order_line_id=1").await;
    assert_eq!(res.status(), StatusCode::CREATED);
    for &replica in &replicas {
        assert_eq!(
            query(replica, &["EXISTS", &line_key(1)]).await.ok(),
            Some(redis::Value::Int(1)),
            "replica {replica} holds the revocation when the 201 is answered"
        );
    }

    // Two primaries: a replica promoted behind the sentinels' back (what a
    // double fail-over looks like for a moment). The instances read the old
    // one; a cancel written there must not answer 201, since an instance that
    // followed the other primary would not see it.
    let _ = query(replicas[0], &["REPLICAOF", "NO", "ONE"])
        .await
        .expect("promoting a replica by hand");
    let res = app.cancel(&vt.token, "order_id=1&order_line_id=4").await;
    assert_error(
        res,
        StatusCode::SERVICE_UNAVAILABLE,
        "revocation_unavailable",
    )
    .await;
    assert_eq!(
        query(replicas[0], &["EXISTS", &line_key(4)]).await.ok(),
        Some(redis::Value::Int(0)),
        "the second primary never got it"
    );
    // Back to one primary with two replicas: line 4's revocation is pushed
    // from the outbox, and cancels answer 201 again.
    let _ = query(
        replicas[0],
        &["REPLICAOF", "127.0.0.1", &primary.to_string()],
    )
    .await
    .expect("demoting it again");
    until_both(
        &app,
        &links[3],
        forbidden,
        &[forbidden, unavailable],
        "line 4",
    )
    .await;
    crate::sentinel_group::wait_until(
        "both replicas back online",
        Duration::from_secs(20),
        || async {
            crate::sentinel_group::info_replication(primary)
                .await
                .is_some_and(|i| i.contains("connected_slaves:2"))
        },
    )
    .await;

    // The replicas cut off: what the primary takes now, a fail-over would
    // lose. The cancel is committed, but not answered as in force.
    group.cut_off_replicas(primary).await;
    let started = Instant::now();
    let res = app.cancel(&vt.token, "order_id=1&order_line_id=2").await;
    let took = started.elapsed();
    let body = assert_error(
        res,
        StatusCode::SERVICE_UNAVAILABLE,
        "revocation_unavailable",
    )
    .await;
    eprintln!("replicas cut off: cancel answered 503 in {took:?}: {body}");
    assert!(
        took < Duration::from_secs(3),
        "bounded by the WAIT timeout: {took:?}"
    );
    // Several at once, as a refund run would send them: each waits on a
    // connection of its own, so none holds up the others or the maintainer,
    // and the lines never canceled keep serving on both instances.
    let started = Instant::now();
    let concurrent = futures_util::future::join_all((5..=8).map(|line| {
        let (app, token) = (&app, &vt.token);
        async move {
            app.cancel(token, &format!("order_id=1&order_line_id={line}"))
                .await
                .status()
        }
    }))
    .await;
    let took = started.elapsed();
    assert!(
        concurrent
            .iter()
            .all(|s| *s == StatusCode::SERVICE_UNAVAILABLE),
        "{concurrent:?}"
    );
    assert!(took < Duration::from_secs(3), "four cancels in {took:?}");
    for link in &links[2] {
        assert_eq!(
            status(&app, link).await,
            ok,
            "a live line while cancels wait"
        );
    }
    // The primary has it: the instances reading it refuse the line at once.
    until_both(
        &app,
        &links[1],
        forbidden,
        &[forbidden, unavailable],
        "before the fail-over",
    )
    .await;

    // Kill the primary: Sentinel promotes a replica that never got line 2.
    group.server(primary).kill();
    // Through the fail-over, neither canceled line serves on either instance,
    // and afterwards both are refused (the maintainer pushes the outbox to
    // the new primary) while the never-canceled one serves again.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        for link in links.iter().filter(|l| **l != links[2]).flatten() {
            let s = status(&app, link).await;
            assert!(
                s == forbidden || s == unavailable,
                "a canceled line answered {s}"
            );
        }
        if status(&app, &links[2][0]).await == ok && status(&app, &links[2][1]).await == ok {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no fail-over within 30 s\n{}",
            group.dump().await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let new_primary = group.replace(primary).await;
    for link in links.iter().filter(|l| **l != links[2]).flatten() {
        assert_error(
            app.client.get(link).send().await.unwrap(),
            StatusCode::FORBIDDEN,
            "access_revoked",
        )
        .await;
    }
    // The new primary holds both revocations, line 2's from the outbox.
    for line in [1, 2, 4] {
        assert_eq!(
            query(new_primary, &["EXISTS", &line_key(line)]).await.ok(),
            Some(redis::Value::Int(1)),
            "line {line} on the new primary"
        );
    }
}
