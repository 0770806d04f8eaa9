//! Redis Cluster revocation set: the keys spread over the cluster's shards.
//!
//! Layout: `redis.cluster_buckets` buckets (default 64); a line lives in bucket
//! `line_id mod buckets`, and every key of bucket `b` carries the hash tag
//! `{prefix:b}`, so one bucket is one slot, on one shard:
//!
//! * `{prefix:b}:rev:l:{line_id}` = `1`, expiring like the single-server entries;
//! * `{prefix:b}:rev:ready` = the replication id of the primary the bucket was
//!   rebuilt on (the single-server rule, per bucket);
//! * `{prefix:b}:rev:lock` = the bucket's rebuild claim.
//!
//! A check is `MGET ready line` on the bucket's primary: one round trip, to one
//! shard. The hot path never follows a redirection. It talks only to the
//! primary the maintainer confirmed for that bucket (`CLUSTER SLOTS`, then
//! `INFO replication` on every primary, once per pass) and compares the
//! marker with *that* primary's replication id. A promoted replica has a new
//! replication id, so the marker it inherited matches nothing until the bucket
//! is rebuilt from the database; a demoted primary answers `MOVED`, which is a
//! failure. Failures are counted per bucket: a dead shard fails closed only
//! the buckets it served, and only those are rebuilt on its replacement.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::coalesce::{Failed, Queue};
use super::redis_store::{COMPLETE_IF_CLAIMED, REBUILD_LOCK_MS, replid_tag};
use super::{RebuildTicket, Revocation, RevocationError, RevocationStore, SetState, Suspicion};
use crate::domain::{LineId, now_ms};

/// Redis Cluster's slot of a key (CRC16/XMODEM of its hash tag, mod 16384).
pub fn key_slot(key: &str) -> u16 {
    let bytes = key.as_bytes();
    let hashed = match key.find('{') {
        Some(open) => match key[open + 1..].find('}') {
            Some(len) if len > 0 => &bytes[open + 1..open + 1 + len],
            _ => bytes,
        },
        None => bytes,
    };
    crc16::State::<crc16::XMODEM>::calculate(hashed) % 16384
}

static NEXT_STORE_ID: AtomicU64 = AtomicU64::new(1);

/// A hot-path connection with what it was made at: (topology generation,
/// node failure count). One made before either changed is replaced.
type Local = (u64, u64, ConnectionManager);

/// A batch queue of one (store, topology generation, node) on one thread.
type Queues = HashMap<(u64, u64, usize), Arc<Queue<Option<bool>>>>;

thread_local! {
    /// Hot-path connections by (store, node index), on the thread that uses them.
    static LOCAL: RefCell<HashMap<(u64, usize), Local>> = RefCell::new(HashMap::new());
    /// Coalesced checks (see `coalesce`), per primary of one layout.
    static QUEUES: RefCell<Queues> = RefCell::new(HashMap::new());
}

struct Bucket {
    slot: u16,
    ready_key: String,
    lock_key: String,
    line_prefix: String,
    /// Failed exchanges touching this bucket; starts at 1 (nothing served
    /// before the first reconciliation).
    failures: AtomicU64,
    /// What the maintainer last confirmed reconciled.
    confirmed: AtomicU64,
    /// The topology generation at which the bucket was last seen complete (0: not).
    complete_at: AtomicU64,
}

/// A primary, as confirmed by the last maintainer pass.
struct Node {
    addr: String,
    client: redis::Client,
    replid: String,
    /// Failed exchanges with this node (its connections are replaced after one).
    failures: AtomicU64,
    buckets: Vec<usize>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct Route {
    node: usize,
    tag: u64,
}

/// Never empty: `routes` has one entry per bucket from the start.
#[derive(Default)]
struct Topology {
    generation: u64,
    nodes: Vec<Node>,
    /// Per bucket: its primary and that primary's replication id (as a tag).
    routes: Vec<Option<Route>>,
}

impl Topology {
    fn route_addr(&self, bucket: usize) -> Option<(&str, u64)> {
        self.routes[bucket].map(|r| (self.nodes[r.node].addr.as_str(), r.tag))
    }
}

pub struct ClusterRevocations {
    id: u64,
    seeds: Vec<String>,
    password: Option<String>,
    config: ConnectionManagerConfig,
    timeout: Duration,
    instance: String,
    buckets: Box<[Bucket]>,
    topology: RwLock<Arc<Topology>>,
    /// Maintainer and write connections, by address.
    shared: std::sync::Mutex<HashMap<String, ConnectionManager>>,
    /// The last topology lookup failed (to log an episode once).
    lookup_failing: AtomicBool,
    /// Coalesce concurrent checks per primary into one pipeline (`coalesce`).
    coalesce: bool,
}

impl std::fmt::Debug for ClusterRevocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterRevocations")
            .field("seeds", &self.seeds)
            .field("buckets", &self.buckets.len())
            .finish_non_exhaustive()
    }
}

type Outcome<T> = Result<T, RevocationError>;

impl ClusterRevocations {
    /// Creates the store without connecting; the maintainer's first pass asks
    /// the seed nodes for the cluster's layout.
    pub fn new(
        seeds: &[(String, u16)],
        password: Option<&str>,
        prefix: &str,
        buckets: usize,
        timeout: Duration,
        instance: &str,
    ) -> anyhow::Result<Self> {
        anyhow::ensure!(!seeds.is_empty(), "redis.cluster_nodes names no node");
        anyhow::ensure!(
            (1..=16384).contains(&buckets),
            "redis.cluster_buckets must be between 1 and 16384"
        );
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        let topology = Topology {
            routes: vec![None; buckets],
            ..Topology::default()
        };
        let buckets = (0..buckets)
            .map(|b| {
                let tag = format!("{{{prefix}:{b}}}");
                Bucket {
                    slot: key_slot(&tag),
                    ready_key: format!("{tag}:rev:ready"),
                    lock_key: format!("{tag}:rev:lock"),
                    line_prefix: format!("{tag}:rev:l:"),
                    failures: AtomicU64::new(1),
                    confirmed: AtomicU64::new(0),
                    complete_at: AtomicU64::new(0),
                }
            })
            .collect();
        Ok(Self {
            id: NEXT_STORE_ID.fetch_add(1, Ordering::Relaxed),
            seeds: seeds.iter().map(|(h, p)| format!("{h}:{p}")).collect(),
            password: password.filter(|p| !p.is_empty()).map(str::to_owned),
            config,
            timeout,
            instance: instance.to_owned(),
            buckets,
            topology: RwLock::new(Arc::new(topology)),
            shared: std::sync::Mutex::new(HashMap::new()),
            lookup_failing: AtomicBool::new(false),
            coalesce: true,
        })
    }

    /// Whether concurrent checks share round trips (default: yes).
    #[must_use]
    pub fn coalescing(mut self, on: bool) -> Self {
        self.coalesce = on;
        self
    }

    /// This thread's batch queue for a primary of the given layout.
    fn queue(&self, topology: &Topology, node: usize) -> Arc<Queue<Option<bool>>> {
        QUEUES.with(|queues| {
            let mut queues = queues.borrow_mut();
            let key = (self.id, topology.generation, node);
            if let Some(queue) = queues.get(&key) {
                return queue.clone();
            }
            // Queues of older layouts are never used again.
            queues.retain(|(id, generation, _), _| {
                *id != self.id || *generation >= topology.generation
            });
            queues.entry(key).or_default().clone()
        })
    }

    /// The bucket a line lives in.
    pub fn bucket_of(&self, line: LineId) -> usize {
        let n = self.buckets.len() as i64;
        // Line ids are positive; rem_euclid keeps any id in range anyway.
        usize::try_from(line.get().rem_euclid(n)).unwrap_or(0)
    }

    /// The address of the primary that serves `line`'s bucket, as confirmed
    /// by the last maintainer pass (for tests and operators).
    pub fn primary_of(&self, line: LineId) -> Option<String> {
        self.topology()
            .route_addr(self.bucket_of(line))
            .map(|(a, _)| a.to_owned())
    }

    /// Buckets whose checks are served now (not suspect, routed).
    pub fn serving_buckets(&self) -> usize {
        let topology = self.topology();
        self.buckets
            .iter()
            .enumerate()
            .filter(|(b, bucket)| {
                bucket.failures.load(Ordering::Acquire) == bucket.confirmed.load(Ordering::Acquire)
                    && topology.routes[*b].is_some()
            })
            .count()
    }

    fn topology(&self) -> Arc<Topology> {
        self.topology
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn client_for(&self, addr: &str) -> Option<redis::Client> {
        let (host, port) = addr.rsplit_once(':')?;
        let mut info = redis::RedisConnectionInfo::default();
        if let Some(password) = &self.password {
            info = info.set_password(password.clone());
        }
        let conn = redis::IntoConnectionInfo::into_connection_info(redis::ConnectionAddr::Tcp(
            host.to_owned(),
            port.parse().ok()?,
        ))
        .ok()?
        .set_redis_settings(info);
        redis::Client::open(conn).ok()
    }

    fn shared_conn(&self, addr: &str) -> Option<ConnectionManager> {
        let mut map = self
            .shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(conn) = map.get(addr) {
            return Some(conn.clone());
        }
        let conn =
            ConnectionManager::new_lazy_with_config(self.client_for(addr)?, self.config.clone())
                .ok()?;
        map.insert(addr.to_owned(), conn.clone());
        Some(conn)
    }

    fn drop_shared(&self, addr: &str) {
        self.shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(addr);
    }

    fn local_conn(&self, topology: &Topology, node: usize) -> Option<ConnectionManager> {
        let n = &topology.nodes[node];
        let failures = n.failures.load(Ordering::Acquire);
        LOCAL.with(|map| {
            let mut map = map.borrow_mut();
            if let Some((generation, made_at, conn)) = map.get(&(self.id, node))
                && *generation == topology.generation
                && *made_at == failures
            {
                return Some(conn.clone());
            }
            let conn =
                ConnectionManager::new_lazy_with_config(n.client.clone(), self.config.clone())
                    .ok()?;
            map.insert(
                (self.id, node),
                (topology.generation, failures, conn.clone()),
            );
            Some(conn)
        })
    }

    /// Counts a failure against a bucket (it fails closed until reconciled);
    /// `true` if it was serving until now.
    fn bucket_failed(&self, bucket: usize) -> bool {
        let b = &self.buckets[bucket];
        let n = b.failures.fetch_add(1, Ordering::AcqRel) + 1;
        b.confirmed.load(Ordering::Acquire) + 1 == n
    }

    /// A failed exchange with a node: every bucket it serves fails closed.
    fn node_failed(&self, topology: &Topology, node: usize, error: &str) {
        let n = &topology.nodes[node];
        n.failures.fetch_add(1, Ordering::AcqRel);
        tracing::debug!(node = %n.addr, %error, "redis cluster exchange failed");
        let mut newly = 0;
        for &b in &n.buckets {
            newly += usize::from(self.bucket_failed(b));
        }
        if newly > 0 {
            // Logged when the node's buckets stop serving, not on every request.
            tracing::warn!(node = %n.addr, buckets = newly, %error, "a Redis cluster primary failed; the lines of its buckets fail closed until reconciled");
        }
        self.drop_shared(&n.addr);
    }

    async fn run<T>(&self, f: impl Future<Output = redis::RedisResult<T>>) -> Result<T, String> {
        match tokio::time::timeout(self.timeout, f).await {
            Ok(Ok(v)) => Ok(v),
            // A pipeline's error repeats itself per command: the first says it.
            Ok(Err(e)) => Err(e.to_string().chars().take(160).collect()),
            Err(_) => Err("timed out".to_owned()),
        }
    }

    /// One pipeline to one node of the current topology; a failure counts
    /// against every bucket the node serves.
    async fn on_node<T: redis::FromRedisValue>(
        &self,
        topology: &Topology,
        node: usize,
        pipe: redis::Pipeline,
    ) -> Outcome<T> {
        let addr = &topology.nodes[node].addr;
        let Some(mut conn) = self.shared_conn(addr) else {
            self.node_failed(topology, node, "no connection");
            return Err(RevocationError::Unreachable);
        };
        match self
            .run(async move { pipe.query_async::<T>(&mut conn).await })
            .await
        {
            Ok(v) => Ok(v),
            Err(e) => {
                self.node_failed(topology, node, &e);
                Err(RevocationError::Unreachable)
            }
        }
    }

    /// Groups buckets by the node that serves them; unrouted buckets fail.
    fn by_node(
        &self,
        topology: &Topology,
        buckets: impl IntoIterator<Item = usize>,
    ) -> (HashMap<usize, Vec<usize>>, bool) {
        let (groups, unrouted) = group_by_node(topology, buckets);
        for &b in &unrouted {
            let _ = self.bucket_failed(b);
        }
        (groups, unrouted.is_empty())
    }

    /// `SET … PXAT` of every entry of these buckets, into one pipeline.
    fn add_entries(
        &self,
        pipe: &mut redis::Pipeline,
        buckets: &[usize],
        per_bucket: &HashMap<usize, Vec<&Revocation>>,
    ) {
        for &b in buckets {
            for r in &per_bucket[&b] {
                pipe.cmd("SET")
                    .arg(format!("{}{}", self.buckets[b].line_prefix, r.line))
                    .arg(1)
                    .arg("PXAT")
                    .arg(u64::try_from(r.until_ms).unwrap_or(u64::MAX))
                    .ignore();
            }
        }
    }

    /// Writes entries, grouped by shard, every shard at once.
    async fn write(&self, topology: &Topology, entries: &[&Revocation]) -> Outcome<()> {
        let mut per_bucket: HashMap<usize, Vec<&Revocation>> = HashMap::new();
        for r in entries {
            per_bucket
                .entry(self.bucket_of(r.line))
                .or_default()
                .push(r);
        }
        let (groups, all_routed) = self.by_node(topology, per_bucket.keys().copied());
        let writes = groups.into_iter().map(|(node, buckets)| {
            let mut pipe = redis::pipe();
            self.add_entries(&mut pipe, &buckets, &per_bucket);
            self.on_node::<()>(topology, node, pipe)
        });
        let results = futures_util::future::join_all(writes).await;
        if all_routed && results.iter().all(Result::is_ok) {
            Ok(())
        } else {
            Err(RevocationError::Unreachable)
        }
    }

    /// Asks the cluster which primary serves which slots (`CLUSTER SLOTS`),
    /// from the nodes known so far, then the seeds.
    async fn slot_map(&self, known: &Topology) -> Option<Vec<(u16, u16, String)>> {
        let mut candidates: Vec<String> = known.nodes.iter().map(|n| n.addr.clone()).collect();
        for seed in &self.seeds {
            if !candidates.contains(seed) {
                candidates.push(seed.clone());
            }
        }
        let mut last_error = String::new();
        for addr in candidates {
            let Some(mut conn) = self.shared_conn(&addr) else {
                continue;
            };
            let asked = self
                .run(async move {
                    redis::cmd("CLUSTER")
                        .arg("SLOTS")
                        .query_async::<redis::Value>(&mut conn)
                        .await
                })
                .await;
            match asked.map(|v| parse_slots(&v)) {
                Ok(Some(map)) if !map.is_empty() => {
                    if self.lookup_failing.swap(false, Ordering::AcqRel) {
                        tracing::info!("the Redis cluster answers for its slots again");
                    }
                    return Some(map);
                }
                Ok(_) => last_error = format!("{addr}: no slot map"),
                Err(e) => {
                    self.drop_shared(&addr);
                    last_error = format!("{addr}: {e}");
                }
            }
        }
        if !self.lookup_failing.swap(true, Ordering::AcqRel) {
            tracing::warn!(error = %last_error, "no Redis cluster node answers for its slots; keeping the last layout");
        }
        None
    }

    /// `INFO replication` of one server: its replication id if it is a primary.
    async fn primary_replid(&self, addr: &str) -> Option<String> {
        let mut conn = self.shared_conn(addr)?;
        let info = self
            .run(async move {
                redis::cmd("INFO")
                    .arg("replication")
                    .query_async::<String>(&mut conn)
                    .await
            })
            .await;
        let info = match info {
            Ok(info) => info,
            Err(_) => {
                self.drop_shared(addr);
                return None;
            }
        };
        let field = |name: &str| {
            info.lines()
                .find_map(|l| l.strip_prefix(name))
                .map(str::trim)
        };
        match (field("role:"), field("master_replid:")) {
            (Some("master"), Some(replid)) if replid_tag(replid) != 0 => Some(replid.to_owned()),
            _ => None,
        }
    }
}

/// `CLUSTER SLOTS` → (first slot, last slot, primary `host:port`).
fn parse_slots(value: &redis::Value) -> Option<Vec<(u16, u16, String)>> {
    use redis::Value;
    let Value::Array(ranges) = value else {
        return None;
    };
    let mut out = Vec::with_capacity(ranges.len());
    for range in ranges {
        let Value::Array(fields) = range else {
            return None;
        };
        let (Some(Value::Int(start)), Some(Value::Int(end)), Some(Value::Array(primary))) =
            (fields.first(), fields.get(1), fields.get(2))
        else {
            return None;
        };
        let host = match primary.first() {
            Some(Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
            Some(Value::SimpleString(s)) => s.clone(),
            _ => return None,
        };
        let Some(Value::Int(port)) = primary.get(1) else {
            return None;
        };
        out.push((
            u16::try_from(*start).ok()?,
            u16::try_from(*end).ok()?,
            format!("{host}:{port}"),
        ));
    }
    Some(out)
}

#[async_trait::async_trait]
impl RevocationStore for ClusterRevocations {
    async fn is_revoked(&self, line: LineId) -> Result<bool, RevocationError> {
        let b = self.bucket_of(line);
        let bucket = &self.buckets[b];
        if bucket.failures.load(Ordering::Acquire) != bucket.confirmed.load(Ordering::Acquire) {
            return Err(RevocationError::Unreachable);
        }
        let topology = self.topology();
        let route = topology.routes[b].ok_or(RevocationError::Unreachable)?;
        let mut conn = self
            .local_conn(&topology, route.node)
            .ok_or(RevocationError::Unreachable)?;
        if !self.coalesce {
            let keys = [
                bucket.ready_key.as_str(),
                &format!("{}{}", bucket.line_prefix, line),
            ];
            let answer = self
                .run(async move {
                    redis::cmd("MGET")
                        .arg(&keys)
                        .query_async::<(Option<String>, Option<String>)>(&mut conn)
                        .await
                })
                .await;
            return match answer {
                // Trusted only as rebuilt on the very primary this check asked.
                Ok((Some(ready), entry)) if replid_tag(&ready) == route.tag => Ok(entry.is_some()),
                Ok(_) => Err(RevocationError::Incomplete),
                Err(e) => {
                    self.node_failed(&topology, route.node, &e);
                    Err(RevocationError::Unreachable)
                }
            };
        }
        // One pipeline of `MGET ready_b line` per waiting check, to this
        // primary (the keys of different buckets live in different slots).
        let answer = self
            .queue(&topology, route.node)
            .check(line, |lines| async move {
                let mut pipe = redis::pipe();
                for l in &lines {
                    let b = &self.buckets[self.bucket_of(*l)];
                    pipe.cmd("MGET")
                        .arg(&b.ready_key)
                        .arg(format!("{}{l}", b.line_prefix));
                }
                let replies = self
                    .run(async move {
                        pipe.query_async::<Vec<(Option<String>, Option<String>)>>(&mut conn)
                            .await
                    })
                    .await
                    .map_err(Failed)?;
                // Trusted only as rebuilt on the very primary this check asked.
                Ok(replies
                    .into_iter()
                    .map(|(ready, entry)| {
                        ready
                            .is_some_and(|r| replid_tag(&r) == route.tag)
                            .then_some(entry.is_some())
                    })
                    .collect())
            })
            .await;
        match answer {
            Ok(Some(revoked)) => Ok(revoked),
            Ok(None) => Err(RevocationError::Incomplete),
            Err(Failed(e)) => {
                self.node_failed(&topology, route.node, &e);
                Err(RevocationError::Unreachable)
            }
        }
    }

    async fn revoke(&self, entries: &[Revocation]) -> Result<(), RevocationError> {
        let now = now_ms();
        let live: Vec<&Revocation> = entries.iter().filter(|r| r.until_ms > now).collect();
        if live.is_empty() {
            return Ok(());
        }
        self.write(&self.topology(), &live).await
    }

    async fn refresh(&self) {
        let old = self.topology();
        let Some(slots) = self.slot_map(&old).await else {
            return;
        };
        let mut addrs: Vec<String> = slots.iter().map(|(_, _, a)| a.clone()).collect();
        addrs.sort();
        addrs.dedup();
        let replids =
            futures_util::future::join_all(addrs.iter().map(|a| self.primary_replid(a))).await;
        let mut nodes: Vec<Node> = Vec::new();
        let mut index: HashMap<&str, usize> = HashMap::new();
        for (addr, replid) in addrs.iter().zip(replids) {
            // A server that is not (or no longer) a primary serves nothing.
            let (Some(replid), Some(client)) = (replid, self.client_for(addr)) else {
                continue;
            };
            index.insert(addr, nodes.len());
            nodes.push(Node {
                addr: addr.clone(),
                client,
                replid,
                failures: AtomicU64::new(0),
                buckets: Vec::new(),
            });
        }
        let mut routes = vec![None; self.buckets.len()];
        for (b, bucket) in self.buckets.iter().enumerate() {
            let owner = slots
                .iter()
                .find(|(start, end, _)| (*start..=*end).contains(&bucket.slot))
                .and_then(|(_, _, addr)| index.get(addr.as_str()).copied());
            if let Some(node) = owner {
                nodes[node].buckets.push(b);
                routes[b] = Some(Route {
                    node,
                    tag: replid_tag(&nodes[node].replid),
                });
            }
        }
        let moved: Vec<usize> = routes
            .iter()
            .enumerate()
            .filter(|(b, r)| old.route_addr(*b) != r.map(|r| (nodes[r.node].addr.as_str(), r.tag)))
            .map(|(b, _)| b)
            .collect();
        if moved.is_empty() {
            return;
        }
        // A bucket whose primary moved (or changed its replication id) fails
        // closed *before* the new layout is published, and serves again only
        // once a pass confirmed it on the new primary.
        for &b in &moved {
            self.buckets[b].failures.fetch_add(1, Ordering::AcqRel);
        }
        let next = Topology {
            generation: old.generation + 1,
            nodes,
            routes,
        };
        let primaries: Vec<&str> = next.nodes.iter().map(|n| n.addr.as_str()).collect();
        if old.generation > 0 {
            tracing::warn!(
                ?primaries,
                buckets = moved.len(),
                "the Redis cluster's layout changed; moved buckets fail closed until confirmed on their new primary"
            );
        } else {
            tracing::info!(?primaries, "Redis cluster layout learned");
        }
        *self
            .topology
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(next);
    }

    async fn state(&self) -> SetState {
        let topology = self.topology();
        if topology.generation == 0 {
            return SetState::Unreachable;
        }
        // Unrouted buckets are not counted as failures here: a read for
        // health must not push buckets back under suspicion.
        let (groups, unrouted) = group_by_node(&topology, 0..self.buckets.len());
        let all_routed = unrouted.is_empty();
        let reads = groups.into_iter().map(|(node, buckets)| {
            let topology = &topology;
            async move {
                let mut pipe = redis::pipe();
                for &b in &buckets {
                    pipe.get(&self.buckets[b].ready_key);
                }
                let got = self
                    .on_node::<Vec<Option<String>>>(topology, node, pipe)
                    .await;
                (node, buckets, got)
            }
        });
        let mut incomplete = false;
        let mut unreachable = !all_routed;
        for (node, buckets, got) in futures_util::future::join_all(reads).await {
            let Ok(markers) = got else {
                unreachable = true;
                continue;
            };
            let tag = replid_tag(&topology.nodes[node].replid);
            for (b, marker) in buckets.into_iter().zip(markers) {
                let complete = marker.is_some_and(|m| replid_tag(&m) == tag);
                self.buckets[b].complete_at.store(
                    if complete { topology.generation } else { 0 },
                    Ordering::Release,
                );
                incomplete |= !complete;
            }
        }
        // Incomplete first: the maintainer rebuilds what it can reach.
        if incomplete {
            SetState::Incomplete
        } else if unreachable {
            SetState::Unreachable
        } else {
            SetState::Complete
        }
    }

    async fn begin_rebuild(&self) -> Result<Option<RebuildTicket>, RevocationError> {
        let topology = self.topology();
        let generation = format!("{}:{}", self.instance, uuid::Uuid::new_v4().simple());
        let wanted = (0..self.buckets.len()).filter(|&b| {
            topology.routes[b].is_some()
                && self.buckets[b].complete_at.load(Ordering::Acquire) != topology.generation
        });
        let (groups, _) = self.by_node(&topology, wanted);
        let claims = groups.into_iter().map(|(node, buckets)| {
            let mut pipe = redis::pipe();
            for &b in &buckets {
                pipe.cmd("SET")
                    .arg(&self.buckets[b].lock_key)
                    .arg(&generation)
                    .arg("NX")
                    .arg("PX")
                    .arg(REBUILD_LOCK_MS);
            }
            let topology = &topology;
            async move {
                let got = self
                    .on_node::<Vec<Option<String>>>(topology, node, pipe)
                    .await;
                (buckets, got)
            }
        });
        let mut claimed = Vec::new();
        let mut any_answer = false;
        for (buckets, got) in futures_util::future::join_all(claims).await {
            if let Ok(answers) = got {
                any_answer = true;
                claimed.extend(
                    buckets
                        .into_iter()
                        .zip(answers)
                        .filter_map(|(b, ok)| ok.map(|_| b)),
                );
            }
        }
        if claimed.is_empty() {
            return if any_answer {
                Ok(None)
            } else {
                Err(RevocationError::Unreachable)
            };
        }
        Ok(Some(RebuildTicket(generation, claimed)))
    }

    async fn finish_rebuild(
        &self,
        ticket: RebuildTicket,
        entries: &[Revocation],
    ) -> Result<bool, RevocationError> {
        let topology = self.topology();
        let RebuildTicket(generation, claimed) = ticket;
        let now = now_ms();
        let mut per_bucket: HashMap<usize, Vec<&Revocation>> =
            claimed.iter().map(|&b| (b, Vec::new())).collect();
        for r in entries.iter().filter(|r| r.until_ms > now) {
            if let Some(list) = per_bucket.get_mut(&self.bucket_of(r.line)) {
                list.push(r);
            }
        }
        let (groups, all_routed) = self.by_node(&topology, claimed.iter().copied());
        let rebuilds = groups.into_iter().map(|(node, buckets)| {
            // Entries first, then each bucket's marker if its claim still
            // holds: one pipeline, in order, on the bucket's primary.
            let replid = topology.nodes[node].replid.clone();
            let mut pipe = redis::pipe();
            self.add_entries(&mut pipe, &buckets, &per_bucket);
            for &b in &buckets {
                pipe.cmd("EVAL")
                    .arg(COMPLETE_IF_CLAIMED)
                    .arg(2)
                    .arg(&self.buckets[b].lock_key)
                    .arg(&self.buckets[b].ready_key)
                    .arg(&generation)
                    .arg(&replid);
            }
            let topology = &topology;
            async move {
                let got = self.on_node::<Vec<i64>>(topology, node, pipe).await;
                (buckets, got)
            }
        });
        let mut all_done = all_routed;
        let mut rebuilt = 0;
        for (buckets, got) in futures_util::future::join_all(rebuilds).await {
            match got {
                Ok(done) => {
                    for (b, d) in buckets.into_iter().zip(done) {
                        if d == 1 {
                            rebuilt += 1;
                            self.buckets[b]
                                .complete_at
                                .store(topology.generation, Ordering::Release);
                        } else {
                            all_done = false;
                        }
                    }
                }
                Err(_) => all_done = false,
            }
        }
        if rebuilt > 0 {
            tracing::info!(
                buckets = rebuilt,
                entries = entries.len(),
                "revocation buckets rebuilt from the database"
            );
        }
        if !all_done {
            tracing::warn!(
                "some revocation buckets lost their memory (or this rebuild's claim) while rebuilding, or could not be reached; starting over"
            );
        }
        Ok(all_done)
    }

    async fn sweep(&self, _now_ms: i64) -> usize {
        // Entries expire by themselves (PXAT).
        0
    }

    fn kind(&self) -> &'static str {
        "redis-cluster"
    }

    fn suspicion(&self) -> Suspicion {
        Suspicion(
            self.buckets
                .iter()
                .map(|b| b.failures.load(Ordering::Acquire))
                .collect(),
        )
    }

    fn clear_suspicion(&self, seen: &Suspicion, _state: SetState) {
        let generation = self.topology().generation;
        let mut lifted = 0;
        for (bucket, &seen) in self.buckets.iter().zip(&seen.0) {
            // Per bucket: reconciled if seen complete on the current layout.
            if bucket.complete_at.load(Ordering::Acquire) == generation && generation > 0 {
                let before = bucket.confirmed.swap(seen, Ordering::AcqRel);
                if before != seen && seen == bucket.failures.load(Ordering::Acquire) {
                    lifted += 1;
                }
            }
        }
        if lifted > 0 {
            tracing::info!(
                buckets = lifted,
                "redis cluster revocation buckets reconciled; their lines serve again"
            );
        }
    }
}

/// Buckets grouped by the node that serves them, and those no node serves.
fn group_by_node(
    topology: &Topology,
    buckets: impl IntoIterator<Item = usize>,
) -> (HashMap<usize, Vec<usize>>, Vec<usize>) {
    let mut groups: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut unrouted = Vec::new();
    for b in buckets {
        match topology.routes[b] {
            Some(route) => groups.entry(route.node).or_default().push(b),
            None => unrouted.push(b),
        }
    }
    (groups, unrouted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_match_redis_cluster_keyslot() {
        // Values from `CLUSTER KEYSLOT` on Redis 7.
        assert_eq!(key_slot("foo"), 12182);
        assert_eq!(key_slot("somekey"), 11058);
        assert_eq!(key_slot("{user1000}.following"), key_slot("user1000"));
        assert_ne!(key_slot("{a}x"), key_slot("{b}x"));
    }
}
