//! Redis Cluster: three primaries, each with a replica, all real
//! `redis-server` processes of this test, made with `redis-cli --cluster
//! create`. Revocation keys spread over buckets (hash tags) and so over the
//! shards; a check is one round trip to one shard. A primary is killed right
//! after a cancel answered 201 on it, with its replica cut off so that the
//! replica it promotes never received the revocation. Only the lines on that
//! shard may answer 503 meanwhile; the revoked link never serves; afterwards
//! every line answers exactly as it should, on both gateway instances.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use assetgate::domain::Environment;
use assetgate::revocation::key_slot;
use base64::Engine as _;
use reqwest::StatusCode;

use crate::cluster_group::ClusterGroup;
use crate::helpers::{AssetSpec, Backend, Options, TestApp, spawn_app_with, start_instance};

const LINES: i64 = 24;
const ROUNDS: usize = 3;

async fn status(app: &TestApp, url: &str) -> StatusCode {
    app.client.get(url).send().await.unwrap().status()
}

/// The internal line id a link names (its `sub` claim).
fn line_id_of(link: &str) -> i64 {
    let token = link.rsplit('/').next().unwrap();
    let payload = token.split('.').nth(1).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    claims["sub"].as_str().unwrap().parse().unwrap()
}

struct Line {
    number: i64,
    links: [String; 2],
    slot: u16,
    canceled: bool,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_shard_fails_closed_only_its_own_lines_and_its_promoted_replica_never_serves_a_revoked_one()
 {
    let mut group = ClusterGroup::start().await;
    let app = spawn_app_with(
        Backend::Postgres,
        Options {
            redis_cluster: Some(group.seeds()),
            tweak: |s| s.log.level = "warn,assetgate::revocation=debug".into(),
            ..Options::default()
        },
    )
    .await;
    let b = start_instance(&app.settings).await;
    let prefix = app.settings.redis.key_prefix.clone();
    let buckets = i64::try_from(app.settings.redis.cluster_buckets).unwrap();

    // The gateway's slot of every bucket is the cluster's own.
    for bucket in 0..buckets {
        let tag = format!("{{{prefix}:{bucket}}}:rev:ready");
        assert_eq!(key_slot(&tag), group.keyslot(&tag).await, "slot of {tag}");
    }

    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    let numbers: Vec<(i64, &_)> = (1..=LINES).map(|i| (i, &asset)).collect();
    app.completed_order(&vt.token, 1, &numbers).await;
    let mut lines = Vec::new();
    for number in 1..=LINES {
        let a = app.link(&vt.token, 1, number).await;
        let bucket = line_id_of(&a).rem_euclid(buckets);
        let via_b = a.replace(&app.address, &b);
        lines.push(Line {
            number,
            links: [a, via_b],
            slot: key_slot(&format!("{{{prefix}:{bucket}}}")),
            canceled: false,
        });
    }
    // A third of the lines canceled while all is well.
    for line in lines.iter_mut().filter(|l| l.number % 3 == 0) {
        assert_eq!(
            app.cancel(
                &vt.token,
                &format!("order_id=1&order_line_id={}", line.number)
            )
            .await
            .status(),
            StatusCode::CREATED
        );
        line.canceled = true;
    }

    for round in 1..=ROUNDS {
        let primaries = group.settled().await;
        let mut shard_of = HashMap::new();
        for line in &lines {
            shard_of.insert(line.number, group.primary_of_slot(line.slot).await.unwrap());
        }
        for p in &primaries {
            assert!(
                shard_of.values().filter(|s| *s == p).count() >= 2,
                "round {round}: every shard holds test lines ({shard_of:?})"
            );
        }
        settle(&app, &lines, round).await;

        // The victim: a live line on a shard, canceled right before its
        // primary dies, with that primary's replica cut off.
        let victim = lines
            .iter()
            .position(|l| !l.canceled && shard_of[&l.number] == primaries[round % 3])
            .expect("a live line on the shard");
        let primary = shard_of[&lines[victim].number];
        let replica = group
            .replica_of(primary)
            .await
            .expect("the shard's replica");
        group.cut_off_replicas(primary).await;
        let via = if rand::random::<bool>() {
            &app.address
        } else {
            &b
        };
        let res = app
            .client
            .delete(format!(
                "{via}/purchase/cancel?order_id=1&order_line_id={}",
                lines[victim].number
            ))
            .bearer_auth(&vt.token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED, "round {round}");
        lines[victim].canceled = true;
        let pause = rand::random_range(0..20);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        group.kill(primary);
        let bucket = line_id_of(&lines[victim].links[0]).rem_euclid(buckets);
        let key = format!(
            "{{{prefix}:{bucket}}}:rev:l:{}",
            line_id_of(&lines[victim].links[0])
        );
        let replica_had_it = group.holds(replica, &key).await;
        eprintln!(
            "round {round}: line {} canceled via {via}; primary {primary} killed {pause} ms after the 201; \
             its replica {replica} had the revocation: {replica_had_it}",
            lines[victim].number
        );
        assert!(!replica_had_it, "the replica was cut off before the cancel");

        // Until the replica took over and its buckets were rebuilt, only the
        // lines on the dead shard may answer 503; nothing revoked serves.
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut unavailable_on_shard = 0;
        loop {
            let mut settled = true;
            for line in &lines {
                let on_dead_shard = shard_of[&line.number] == primary;
                for link in &line.links {
                    let s = status(&app, link).await;
                    let right = if line.canceled {
                        StatusCode::FORBIDDEN
                    } else {
                        StatusCode::OK
                    };
                    if s == right {
                        continue;
                    }
                    assert!(
                        on_dead_shard && s == StatusCode::SERVICE_UNAVAILABLE,
                        "round {round}: line {} ({}, on {}, dead shard {primary}) answered {s}",
                        line.number,
                        if line.canceled { "canceled" } else { "live" },
                        shard_of[&line.number]
                    );
                    unavailable_on_shard += 1;
                    settled = false;
                }
            }
            if settled && unavailable_on_shard > 0 {
                break;
            }
            if Instant::now() > deadline {
                panic!(
                    "round {round}: the shard did not come back within 30 s \
                     ({unavailable_on_shard} answers 503)\n{}",
                    group.dump().await
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let new_primary = group.taken_over(lines[victim].slot, primary).await;
        assert_eq!(new_primary, replica, "round {round}: the replica took over");
        eprintln!(
            "round {round}: {unavailable_on_shard} answers 503 on the dead shard, none elsewhere"
        );
        // The old primary comes back, empty, as a replica of the new one.
        group.restart(primary);
    }
    group.settled().await;
    settle(&app, &lines, ROUNDS + 1).await;
}

/// Waits until every line answers as it should on both instances (503 is
/// the only other answer allowed meanwhile).
async fn settle(app: &TestApp, lines: &[Line], round: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut wrong = Vec::new();
        for line in lines {
            for link in &line.links {
                let s = status(app, link).await;
                let right = if line.canceled {
                    StatusCode::FORBIDDEN
                } else {
                    StatusCode::OK
                };
                if s != right {
                    assert_eq!(
                        s,
                        StatusCode::SERVICE_UNAVAILABLE,
                        "round {round}: line {} answered {s}",
                        line.number
                    );
                    wrong.push(line.number);
                }
            }
        }
        if wrong.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "round {round}: lines {wrong:?} still answer 503"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
