//! One suite, every revocation store: in-process, one Redis server, a
//! Sentinel-managed primary and a Redis Cluster (all real servers of this
//! test). What the maintainer and the download path rely on must hold for
//! each: nothing trusted before the first rebuild, one rebuild at a time, a
//! rebuild voided by a loss of memory, exact answers for lines spread over
//! the whole key space.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use assetgate::domain::{LineId, now_ms};
use assetgate::revocation::{
    ClusterRevocations, MemoryRevocations, RedisRevocations, Revocation, RevocationError, SetState,
    SharedRevocations,
};

use crate::cluster_group::ClusterGroup;
use crate::helpers::PrivateRedis;
use crate::sentinel_group::{MASTER, SentinelGroup, query};

type LoseMemory<'a> = Box<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + 'a>> + 'a>;

const TIMEOUT: Duration = Duration::from_secs(1);

fn line(n: i64) -> LineId {
    LineId::parse(n).unwrap()
}

fn rev(n: i64, in_ms: i64) -> Revocation {
    Revocation {
        line: line(n),
        until_ms: now_ms() + in_ms,
    }
}

fn addrs(list: &str) -> Vec<(String, u16)> {
    list.split(',')
        .map(|a| {
            let (h, p) = a.rsplit_once(':').unwrap();
            (h.to_owned(), p.parse().unwrap())
        })
        .collect()
}

/// A maintainer pass, as `app::maintain` does it (without a database: the
/// outbox is empty and `entries` is what the database would hold).
async fn reconcile(store: &SharedRevocations, entries: &[Revocation]) -> SetState {
    store.refresh().await;
    let seen = store.suspicion();
    let mut state = store.state().await;
    if state == SetState::Incomplete
        && let Ok(Some(ticket)) = store.begin_rebuild().await
    {
        store.finish_rebuild(ticket, entries).await.unwrap();
        state = store.state().await;
    }
    store.clear_suspicion(&seen, state);
    state
}

async fn contract(store: SharedRevocations, lose_memory: Option<LoseMemory<'_>>) {
    let kind = store.kind();
    // Nothing is trusted before the first reconciliation.
    store.refresh().await;
    assert!(
        store.is_revoked(line(1)).await.is_err(),
        "{kind}: a fresh store answered before any rebuild"
    );
    assert_ne!(store.state().await, SetState::Complete, "{kind}");

    // One rebuild at a time (in-process: one instance, nothing to exclude).
    let seen = store.suspicion();
    let ticket = store.begin_rebuild().await.unwrap().expect("first claim");
    let second = store.begin_rebuild().await.unwrap();
    assert!(
        second.is_none() || kind == "in-process",
        "{kind}: two rebuilds claimed at once"
    );

    // Lines 1..=200: the odd ones revoked; one entry already expired.
    let mut initial: Vec<Revocation> = (1..=200)
        .filter(|n| n % 2 == 1)
        .map(|n| rev(n, 60_000))
        .collect();
    initial.push(rev(1000, -1));
    assert!(
        store.finish_rebuild(ticket, &initial).await.unwrap(),
        "{kind}"
    );
    let state = store.state().await;
    assert_eq!(state, SetState::Complete, "{kind}");
    store.clear_suspicion(&seen, state);
    for n in 1..=200 {
        assert_eq!(
            store.is_revoked(line(n)).await,
            Ok(n % 2 == 1),
            "{kind}: line {n}"
        );
    }

    // New revocations, many at once (spread over every bucket of a cluster).
    let many: Vec<Revocation> = (10_000..10_500).map(|n| rev(n, 60_000)).collect();
    store.revoke(&many).await.unwrap();
    store.revoke(&[rev(2, 60_000)]).await.unwrap();
    for n in (10_000..10_500).chain([2]) {
        assert_eq!(
            store.is_revoked(line(n)).await,
            Ok(true),
            "{kind}: line {n}"
        );
    }
    for n in 20_000..20_100 {
        assert_eq!(
            store.is_revoked(line(n)).await,
            Ok(false),
            "{kind}: line {n}"
        );
    }

    let Some(lose_memory) = lose_memory else {
        return;
    };
    // The store loses its memory: nothing is served until a rebuild…
    lose_memory().await;
    let answers = futures_util::future::join_all((1..=50).map(|n| store.is_revoked(line(n)))).await;
    assert!(
        answers.iter().all(|a| matches!(
            a,
            Err(RevocationError::Incomplete | RevocationError::Unreachable)
        )),
        "{kind}: served after losing its memory: {answers:?}"
    );
    // …and a rebuild straddling a second loss is void.
    let ticket = loop {
        store.refresh().await;
        let _ = store.state().await;
        if let Ok(Some(t)) = store.begin_rebuild().await {
            break t;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    lose_memory().await;
    assert!(
        !store
            .finish_rebuild(ticket, &initial)
            .await
            .unwrap_or(false),
        "{kind}: a rebuild straddling a loss of memory declared the set complete"
    );
    // A clean pass restores exact answers.
    let mut all = initial.clone();
    all.extend(many);
    all.push(rev(2, 60_000));
    let mut state = SetState::Incomplete;
    for _ in 0..100 {
        state = reconcile(&store, &all).await;
        if state == SetState::Complete && store.is_revoked(line(1)).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(state, SetState::Complete, "{kind}");
    for n in [1, 2, 3, 4, 10_000, 10_499, 20_000] {
        assert_eq!(
            store.is_revoked(line(n)).await,
            Ok(n % 2 == 1 || n == 2 || (10_000..10_500).contains(&n)),
            "{kind}: line {n} after the rebuild"
        );
    }
}

fn prefix() -> String {
    format!("agcontract-{}", uuid::Uuid::new_v4().simple())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_process_store_keeps_the_contract() {
    contract(Arc::new(MemoryRevocations::new()), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_redis_server_keeps_the_contract() {
    let redis = PrivateRedis::start().await;
    let store = RedisRevocations::new(&redis.url(), &prefix(), TIMEOUT, "contract").unwrap();
    let flush: LoseMemory<'_> = Box::new(|| {
        Box::pin(async {
            redis.cmd(&["FLUSHALL"]).await;
        })
    });
    contract(Arc::new(store), Some(flush)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sentinel_managed_primary_keeps_the_contract() {
    let group = SentinelGroup::start().await;
    let store = RedisRevocations::with_sentinels(
        &addrs(&group.addresses()),
        MASTER,
        redis::RedisConnectionInfo::default(),
        &prefix(),
        TIMEOUT,
        "contract",
    )
    .unwrap();
    let primary = group.primary().await;
    let flush: LoseMemory<'_> = Box::new(move || {
        Box::pin(async move {
            query(primary, &["FLUSHALL"]).await.unwrap();
        })
    });
    contract(Arc::new(store), Some(flush)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_cluster_keeps_the_contract() {
    let group = ClusterGroup::start().await;
    let primaries = group.settled().await;
    let store = ClusterRevocations::new(
        &addrs(&group.seeds()),
        None,
        &prefix(),
        64,
        TIMEOUT,
        "contract",
    )
    .unwrap();
    let flush: LoseMemory<'_> = Box::new(move || {
        let primaries = primaries.clone();
        Box::pin(async move {
            for p in primaries {
                query(p, &["FLUSHALL"]).await.unwrap();
            }
        })
    });
    contract(Arc::new(store), Some(flush)).await;
}
