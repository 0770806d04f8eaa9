//! Redis revocation set, shared by every instance of a fleet.
//!
//! Layout (all keys share the hash tag `{prefix}`; a Redis Cluster uses
//! `cluster_store`, which spreads them over buckets):
//!
//! * `{prefix}:rev:l:{line_id}` = `1`, expiring (`PXAT`) when no link can need it
//!   any more (cancel time + link TTL + margin): the set bounds itself.
//! * `{prefix}:rev:ready` = the replication id (`master_replid`) of the primary
//!   the set was rebuilt on, no expiry. Written only after a full rebuild from
//!   the database. Every check reads it in the same round trip as the line
//!   (`MGET ready line`) and trusts the set only if it names the primary this
//!   instance last confirmed (`INFO replication`, every maintainer pass). If
//!   Redis loses its memory (FLUSHALL, restart) the marker is gone; if a replica
//!   is promoted, or a primary restarts from an older snapshot, the primary's
//!   replication id changes and the marker (replicated from the old primary)
//!   no longer matches. Either way access fails closed until the set is rebuilt
//!   from the database, which holds every revocation ever answered 201: a
//!   replica that missed the last writes can never serve a revoked link.
//!
//! With `redis.sentinels`, the maintainer asks the sentinels for the primary
//! on every pass and reconnects when it moved.
//! * `{prefix}:rev:lock` = rebuild generation, `NX PX`: one instance rebuilds at
//!   a time. It is taken *before* the database is read, and the ready marker is
//!   set (by a script, atomically) only while it still holds the same
//!   generation: a loss of memory in the middle of a rebuild voids it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use redis::AsyncCommands as _;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};

use super::coalesce::{Failed, Queue};
use super::{RebuildTicket, Revocation, RevocationError, RevocationStore, SetState, Suspicion};
use crate::config::ReplicaAcks;
use crate::domain::{LineId, now_ms};

pub(super) const REBUILD_LOCK_MS: u64 = 10_000;

/// Marks the set complete only if the rebuild claim (`KEYS[1]`) still holds
/// this rebuild's generation (`ARGV[1]`). A FLUSHALL, a restart or a fail-over
/// after the claim was taken removes it, and with it any entry written since
/// the database was read, so the set must not be declared complete.
pub(super) const COMPLETE_IF_CLAIMED: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[2])
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
";

static NEXT_STORE_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// One multiplexed connection per (thread, store): its driver task runs on
    /// the thread that uses it, so an access check does not hop threads. Each
    /// remembers the failure count it was made at (see `local_conn`).
    static LOCAL_CONNECTIONS: RefCell<HashMap<u64, (u64, ConnectionManager)>> = RefCell::new(HashMap::new());
    /// One batch queue per (thread, store): see `coalesce`.
    static LOCAL_QUEUES: RefCell<HashMap<u64, Arc<Queue<Option<bool>>>>> = RefCell::new(HashMap::new());
}
const WRITE_CHUNK: usize = 1000;

/// Where the primary is.
enum Source {
    /// `redis.url`.
    Fixed,
    /// `redis.sentinels`: asked on every maintainer pass.
    Sentinel {
        client: Box<tokio::sync::Mutex<SentinelClient>>,
        /// Asked directly how many replicas they know of (`min_replica_acks = all`).
        sentinels: Vec<redis::ConnectionAddr>,
        master: String,
    },
}

/// `replicas` before anyone counted them: a cancel cannot be confirmed yet.
const REPLICAS_UNKNOWN: i64 = -1;

/// A replication id as a number that fits an atomic: its first 64 bits, odd,
/// so that 0 ("no primary confirmed") matches nothing.
pub(super) fn replid_tag(replid: &str) -> u64 {
    replid
        .get(..16)
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .map_or(0, |n| n | 1)
}

pub struct RedisRevocations {
    id: u64,
    /// The primary; `None` until the sentinels named one.
    client: std::sync::RwLock<Option<redis::Client>>,
    source: Source,
    config: ConnectionManagerConfig,
    /// For writes, the maintainer and anything off the HTTP worker threads,
    /// with the failure count it was made at (replaced like the local ones).
    conn: std::sync::Mutex<(u64, Option<ConnectionManager>)>,
    /// The replication id of the primary confirmed by the last maintainer pass
    /// (as a tag for the hot path, and whole for writing the ready marker).
    expected: AtomicU64,
    replid: std::sync::Mutex<String>,
    /// The last Sentinel lookup failed (to log an episode once).
    lookup_failing: std::sync::atomic::AtomicBool,
    timeout: Duration,
    ready_key: String,
    lock_key: String,
    line_prefix: String,
    instance: String,
    /// Coalesce concurrent checks on a thread into one round trip (`coalesce`).
    coalesce: bool,
    /// The primary moved or changed its replication id; every active
    /// revocation is to be written again (`RevocationStore::needs_repush`).
    repush: std::sync::atomic::AtomicBool,
    /// `redis.min_replica_acks`.
    acks: ReplicaAcks,
    /// With `ReplicaAcks::All`: how many replicas there are, as last counted
    /// by the maintainer (the sentinels' list, or the primary's report).
    replicas: AtomicI64,
    /// Failed exchanges so far; starts at 1 so nothing is served before the
    /// maintainer's first successful pass.
    failures: AtomicU64,
    /// The failure count the maintainer last confirmed as reconciled.
    confirmed: AtomicU64,
}

impl std::fmt::Debug for RedisRevocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRevocations")
            .field("ready_key", &self.ready_key)
            .finish()
    }
}

impl RedisRevocations {
    /// Creates the store without connecting: the gateway starts (and fails
    /// closed) while Redis is down, and reconnects by itself.
    pub fn new(url: &str, prefix: &str, timeout: Duration, instance: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)
            .map_err(|e| anyhow::anyhow!("redis.url is not a valid Redis URL: {e}"))?;
        Ok(Self::build(
            Some(client),
            Source::Fixed,
            prefix,
            timeout,
            instance,
        ))
    }

    /// A store that follows the primary the sentinels name. Nothing is
    /// resolved here: the maintainer's first pass asks the sentinels.
    pub fn with_sentinels(
        sentinels: &[(String, u16)],
        master_name: &str,
        server: redis::RedisConnectionInfo,
        prefix: &str,
        timeout: Duration,
        instance: &str,
    ) -> anyhow::Result<Self> {
        let addrs: Vec<redis::ConnectionAddr> = sentinels
            .iter()
            .map(|(host, port)| redis::ConnectionAddr::Tcp(host.clone(), *port))
            .collect();
        let sentinel = SentinelClient::build(
            addrs.clone(),
            master_name.to_owned(),
            Some(SentinelNodeConnectionInfo::default().set_redis_connection_info(server)),
            SentinelServerType::Master,
        )
        .map_err(|e| anyhow::anyhow!("redis.sentinels: {e}"))?;
        Ok(Self::build(
            None,
            Source::Sentinel {
                client: Box::new(tokio::sync::Mutex::new(sentinel)),
                sentinels: addrs,
                master: master_name.to_owned(),
            },
            prefix,
            timeout,
            instance,
        ))
    }

    fn build(
        client: Option<redis::Client>,
        source: Source,
        prefix: &str,
        timeout: Duration,
        instance: &str,
    ) -> Self {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        let tag = format!("{{{prefix}}}");
        Self {
            id: NEXT_STORE_ID.fetch_add(1, Ordering::Relaxed),
            client: std::sync::RwLock::new(client),
            source,
            config,
            conn: std::sync::Mutex::new((0, None)),
            expected: AtomicU64::new(0),
            replid: std::sync::Mutex::new(String::new()),
            lookup_failing: std::sync::atomic::AtomicBool::new(false),
            timeout,
            ready_key: format!("{tag}:rev:ready"),
            lock_key: format!("{tag}:rev:lock"),
            line_prefix: format!("{tag}:rev:l:"),
            instance: instance.to_owned(),
            coalesce: true,
            repush: std::sync::atomic::AtomicBool::new(false),
            acks: ReplicaAcks::All,
            replicas: AtomicI64::new(REPLICAS_UNKNOWN),
            failures: AtomicU64::new(1),
            confirmed: AtomicU64::new(0),
        }
    }

    /// Whether concurrent checks share round trips (default: yes).
    #[must_use]
    pub fn coalescing(mut self, on: bool) -> Self {
        self.coalesce = on;
        self
    }

    /// How many replicas must confirm a revocation before it counts as in
    /// force (`redis.min_replica_acks`; default `all`).
    #[must_use]
    pub fn replica_acks(mut self, acks: ReplicaAcks) -> Self {
        self.acks = acks;
        self
    }

    /// How many acknowledgements a revocation needs now; `None` while the
    /// replicas have not been counted yet.
    fn wanted_acks(&self) -> Option<u32> {
        match self.acks {
            ReplicaAcks::Count(n) => Some(n),
            ReplicaAcks::All => u32::try_from(self.replicas.load(Ordering::Acquire)).ok(),
        }
    }

    /// Asks the sentinels (the first that answers) how many replicas of the
    /// primary they know of, down or not: every server of the group that
    /// could be, or become, the one some instance reads.
    async fn count_known_replicas(&self, sentinels: &[redis::ConnectionAddr], master: &str) {
        for addr in sentinels {
            let Ok(client) = redis::Client::open(addr.clone()) else {
                continue;
            };
            let asked = tokio::time::timeout(self.timeout, async {
                let mut conn = client.get_multiplexed_async_connection().await?;
                redis::cmd("SENTINEL")
                    .arg("REPLICAS")
                    .arg(master)
                    .query_async::<Vec<redis::Value>>(&mut conn)
                    .await
            })
            .await;
            if let Ok(Ok(replicas)) = asked {
                let n = i64::try_from(replicas.len()).unwrap_or(i64::MAX);
                let before = self.replicas.swap(n, Ordering::AcqRel);
                if before != n {
                    tracing::info!(
                        replicas = n,
                        "cancels now wait for this many Redis replicas to hold each revocation"
                    );
                }
                return;
            }
        }
        tracing::debug!("no sentinel said how many replicas there are; keeping the last count");
    }

    fn client(&self) -> Option<redis::Client> {
        self.client
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn connect(&self) -> Option<ConnectionManager> {
        ConnectionManager::new_lazy_with_config(self.client()?, self.config.clone()).ok()
    }

    /// This thread's connection (created on first use, on this thread's runtime).
    ///
    /// A connection made before the latest failed exchange is replaced: after
    /// Redis restarts, every thread's old socket is dead, and each would
    /// otherwise fail its first request — and put the instance back under
    /// suspicion — once more, one thread after another.
    fn local_conn(&self) -> Option<ConnectionManager> {
        let failures = self.failures.load(Ordering::Acquire);
        LOCAL_CONNECTIONS.with(|map| {
            let mut map = map.borrow_mut();
            if let Some((made_at, conn)) = map.get(&self.id)
                && *made_at == failures
            {
                return Some(conn.clone());
            }
            let conn = self.connect()?;
            map.insert(self.id, (failures, conn.clone()));
            Some(conn)
        })
    }

    /// The connection for writes, replaced after a failed exchange.
    fn shared_conn(&self) -> Option<ConnectionManager> {
        let failures = self.failures.load(Ordering::Acquire);
        // Nothing done under this lock can leave it inconsistent, poisoned or not.
        let mut guard = self
            .conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if (guard.0 != failures || guard.1.is_none())
            && let Some(fresh) = self.connect()
        {
            *guard = (failures, Some(fresh));
        }
        guard.1.clone()
    }

    /// Asks the sentinels where the primary is; reconnects (failing closed
    /// until the next reconciliation) when it moved.
    async fn follow_primary(&self, sentinel: &tokio::sync::Mutex<SentinelClient>) {
        let asked = tokio::time::timeout(self.timeout.saturating_mul(2), async {
            sentinel.lock().await.async_get_client().await
        })
        .await;
        let client = match asked {
            Ok(Ok(client)) => {
                if self.lookup_failing.swap(false, Ordering::AcqRel) {
                    tracing::info!("the sentinels name a reachable Redis primary again");
                }
                client
            }
            failed => {
                let error = match failed {
                    Ok(Err(e)) => e.to_string(),
                    _ => "the sentinels did not answer in time".to_owned(),
                };
                // Once per episode (a fail-over takes seconds; passes run twice a second).
                if self.lookup_failing.swap(true, Ordering::AcqRel) {
                    tracing::debug!(%error, "no sentinel names a reachable Redis primary yet");
                } else {
                    tracing::warn!(%error, "no sentinel names a reachable Redis primary; keeping the last one");
                }
                return;
            }
        };
        let addr = client.get_connection_info().addr().clone();
        let mut current = self
            .client
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if current
            .as_ref()
            .is_some_and(|c| *c.get_connection_info().addr() == addr)
        {
            return;
        }
        *current = Some(client);
        drop(current);
        self.repush.store(true, Ordering::Release);
        // Every connection to the old primary is replaced; nothing is served
        // until this pass has reconciled the set on the new one.
        self.failures.fetch_add(1, Ordering::AcqRel);
        tracing::warn!(primary = %addr, "the sentinels name a new Redis primary; /access fails closed until its set is confirmed");
    }

    /// Confirms the server is a primary and learns its replication id.
    async fn confirm_primary(&self) {
        let Ok(info) = self
            .exchange(|mut conn| async move {
                redis::cmd("INFO")
                    .arg("replication")
                    .query_async::<String>(&mut conn)
                    .await
            })
            .await
        else {
            return;
        };
        let field = |name: &str| {
            info.lines()
                .find_map(|l| l.strip_prefix(name))
                .map(str::trim)
        };
        match (field("role:"), field("master_replid:")) {
            (Some("master"), Some(replid)) if replid_tag(replid) != 0 => {
                if matches!(self.source, Source::Fixed)
                    && let Some(n) = field("connected_slaves:").and_then(|n| n.parse::<i64>().ok())
                {
                    // With one URL, "all" can only mean what the primary reports.
                    self.replicas.store(n, Ordering::Release);
                }
                let tag = replid_tag(replid);
                let before = self.expected.swap(tag, Ordering::AcqRel);
                if before != 0 && before != tag {
                    self.repush.store(true, Ordering::Release);
                    tracing::warn!(
                        "the Redis primary's replication id changed (fail-over or restart): \
                         the revocation set is rebuilt from the database before it is trusted"
                    );
                }
                replid.clone_into(
                    &mut self
                        .replid
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner),
                );
            }
            (role, _) => {
                // A replica (a demoted primary, a stale address): never trusted.
                self.expected.store(0, Ordering::Release);
                self.failures.fetch_add(1, Ordering::AcqRel);
                tracing::warn!(
                    role = role.unwrap_or("unknown"),
                    "the Redis server is not a primary; /access fails closed"
                );
            }
        }
    }

    /// One exchange on the shared connection, under the timeout.
    async fn exchange<T, F, Fut>(&self, f: F) -> Result<T, RevocationError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let Some(conn) = self.shared_conn() else {
            // Counted like any failed exchange (see `RevocationStore::suspicion`).
            self.failures.fetch_add(1, Ordering::AcqRel);
            return Err(RevocationError::Unreachable);
        };
        self.run(f(conn)).await
    }

    fn line_key(&self, line: LineId) -> String {
        format!("{}{}", self.line_prefix, line)
    }

    /// Runs one Redis exchange under the configured timeout.
    async fn run<T>(
        &self,
        f: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, RevocationError> {
        let outcome = match tokio::time::timeout(self.timeout, f).await {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) => e.to_string(),
            Err(_) => "timed out".to_owned(),
        };
        self.failed(&outcome);
        Err(RevocationError::Unreachable)
    }

    /// Counts a failed exchange: this instance fails closed until reconciled.
    fn failed(&self, outcome: &str) {
        let n = self.failures.fetch_add(1, Ordering::AcqRel) + 1;
        tracing::debug!(error = %outcome, failures = n, "redis revocation store exchange failed");
        if self.confirmed.load(Ordering::Acquire) + 1 == n {
            // Log the first failure of an outage, not every request during it.
            tracing::warn!(error = %outcome, "redis revocation store failed; /access fails closed until reconciled");
        }
    }

    /// Writes the entries; with `wait_for` > 0, each chunk's pipeline ends
    /// with `WAIT wait_for`, on the same connection in the same round trip
    /// (WAIT counts the replicas that hold *this connection's* last write: a
    /// WAIT sent on a fresh connection would confirm nothing).
    async fn write(&self, entries: &[Revocation], wait_for: u32) -> Result<(), RevocationError> {
        let now = now_ms();
        let live: Vec<&Revocation> = entries.iter().filter(|r| r.until_ms > now).collect();
        // Bounded well inside the exchange's own timeout, so a missing replica
        // is an answer (too few acknowledgements), not a failed exchange.
        let wait_ms = u64::try_from(self.timeout.as_millis() / 2)
            .unwrap_or(u64::MAX)
            .max(1);
        // A write that waits gets a connection of its own: WAIT blocks the
        // connection it is sent on, and on the shared one every exchange
        // queued behind it (the maintainer's, other cancels') would wait too,
        // time out and count as failures while a replica is down.
        let mut own = None;
        if wait_for > 0 && !live.is_empty() {
            let Some(client) = self.client() else {
                self.failed("no Redis primary known yet");
                return Err(RevocationError::Unreachable);
            };
            own = Some(self.run(client.get_multiplexed_async_connection()).await?);
        }
        for chunk in live.chunks(WRITE_CHUNK) {
            let mut pipe = redis::pipe();
            for r in chunk {
                let until = u64::try_from(r.until_ms).unwrap_or(u64::MAX);
                pipe.cmd("SET")
                    .arg(self.line_key(r.line))
                    .arg(1)
                    .arg("PXAT")
                    .arg(until)
                    .ignore();
            }
            let Some(conn) = own.as_mut() else {
                self.exchange(|mut conn| async move { pipe.query_async::<()>(&mut conn).await })
                    .await?;
                continue;
            };
            pipe.cmd("WAIT").arg(wait_for).arg(wait_ms);
            let (acked,): (u32,) = self.run(pipe.query_async(conn)).await?;
            if acked < wait_for {
                return Err(RevocationError::NotReplicated {
                    acked,
                    wanted: wait_for,
                });
            }
        }
        Ok(())
    }

    /// How many revocation entries Redis holds now (for tests and operators).
    pub async fn entry_count(&self) -> Result<usize, RevocationError> {
        let pattern = format!("{}*", self.line_prefix);
        self.exchange(|mut conn| async move {
            let mut iter: redis::AsyncIter<String> = conn.scan_match(&pattern).await?;
            let mut n = 0;
            while let Some(item) = futures_util::StreamExt::next(&mut iter).await {
                item?;
                n += 1;
            }
            Ok(n)
        })
        .await
    }
}

#[async_trait::async_trait]
impl RevocationStore for RedisRevocations {
    async fn is_revoked(&self, line: LineId) -> Result<bool, RevocationError> {
        // Fail fast while suspect: no request waits on a store that just failed.
        if self.failures.load(Ordering::Acquire) != self.confirmed.load(Ordering::Acquire) {
            return Err(RevocationError::Unreachable);
        }
        let mut conn = self.local_conn().ok_or(RevocationError::Unreachable)?;
        if !self.coalesce {
            let keys = [self.ready_key.as_str(), &self.line_key(line)];
            let (ready, entry): (Option<String>, Option<String>) = self
                .run(async move { redis::cmd("MGET").arg(&keys).query_async(&mut conn).await })
                .await?;
            return match ready {
                Some(ready) if replid_tag(&ready) == self.expected.load(Ordering::Acquire) => {
                    Ok(entry.is_some())
                }
                _ => Err(RevocationError::Incomplete),
            };
        }
        let queue = LOCAL_QUEUES.with(|q| q.borrow_mut().entry(self.id).or_default().clone());
        // Joins this thread's next batch: one `MGET ready l1 l2 …` for every
        // check waiting here, each sent after its request arrived. Per line:
        // `None` when the marker does not name the confirmed primary.
        let answer = queue
            .check(line, |lines| async move {
                let mut keys = Vec::with_capacity(lines.len() + 1);
                keys.push(self.ready_key.clone());
                keys.extend(lines.iter().map(|l| self.line_key(*l)));
                let outcome = tokio::time::timeout(
                    self.timeout,
                    redis::cmd("MGET")
                        .arg(&keys)
                        .query_async::<Vec<Option<String>>>(&mut conn),
                )
                .await;
                match outcome {
                    Ok(Ok(values)) if values.len() == keys.len() => {
                        // The set is trusted only as rebuilt on the primary this
                        // instance confirmed: a promoted replica carries the old
                        // primary's marker.
                        let trusted = values[0].as_deref().is_some_and(|ready| {
                            replid_tag(ready) == self.expected.load(Ordering::Acquire)
                        });
                        Ok(values[1..]
                            .iter()
                            .map(|entry| trusted.then_some(entry.is_some()))
                            .collect())
                    }
                    Ok(Ok(_)) => Err(Failed("MGET answered the wrong number of values".into())),
                    Ok(Err(e)) => Err(Failed(e.to_string())),
                    Err(_) => Err(Failed("timed out".into())),
                }
            })
            .await;
        match answer {
            Ok(Some(revoked)) => Ok(revoked),
            Ok(None) => Err(RevocationError::Incomplete),
            Err(Failed(why)) => {
                self.failed(&why);
                Err(RevocationError::Unreachable)
            }
        }
    }

    async fn revoke(&self, entries: &[Revocation]) -> Result<(), RevocationError> {
        // If Redis lost its memory, the entry still lands and the missing ready
        // marker keeps every instance failing closed until a rebuild from the
        // database (which already holds this cancel) completes the set.
        // Then every replica (`min_replica_acks`) must hold it too: a server
        // that some instance reads, or will read after a fail-over, cannot
        // be missing a revocation answered 201 (DESIGN, "Replica
        // acknowledgements").
        let Some(wanted) = self.wanted_acks() else {
            return Err(RevocationError::NotReplicated {
                acked: 0,
                wanted: 0,
            });
        };
        self.write(entries, wanted).await
    }

    async fn refresh(&self) {
        if let Source::Sentinel {
            client,
            sentinels,
            master,
        } = &self.source
        {
            self.follow_primary(client).await;
            if self.acks == ReplicaAcks::All {
                self.count_known_replicas(sentinels, master).await;
            }
        }
        self.confirm_primary().await;
    }

    async fn state(&self) -> SetState {
        let key = self.ready_key.clone();
        match self
            .exchange(|mut conn| async move { conn.get::<_, Option<String>>(key).await })
            .await
        {
            Ok(Some(ready)) if replid_tag(&ready) == self.expected.load(Ordering::Acquire) => {
                SetState::Complete
            }
            Ok(_) => SetState::Incomplete,
            Err(_) => SetState::Unreachable,
        }
    }

    async fn begin_rebuild(&self) -> Result<Option<RebuildTicket>, RevocationError> {
        let generation = format!("{}:{}", self.instance, uuid::Uuid::new_v4().simple());
        let (lock, value) = (self.lock_key.clone(), generation.clone());
        let acquired: Option<String> = self
            .exchange(|mut conn| async move {
                redis::cmd("SET")
                    .arg(lock)
                    .arg(value)
                    .arg("NX")
                    .arg("PX")
                    .arg(REBUILD_LOCK_MS)
                    .query_async(&mut conn)
                    .await
            })
            .await?;
        Ok(acquired.map(|_| RebuildTicket(generation, Vec::new())))
    }

    async fn finish_rebuild(
        &self,
        ticket: RebuildTicket,
        entries: &[Revocation],
    ) -> Result<bool, RevocationError> {
        // The marker names the primary confirmed before the rebuild: written to
        // any other server (a fail-over meanwhile), it matches nothing.
        let replid = self
            .replid
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        if replid_tag(&replid) == 0 {
            return Err(RevocationError::Unreachable);
        }
        // The marker, not replication, guards a rebuild: no wait.
        self.write(entries, 0).await?;
        let (lock, ready) = (self.lock_key.clone(), self.ready_key.clone());
        let completed: i64 = self
            .exchange(|mut conn| async move {
                redis::Script::new(COMPLETE_IF_CLAIMED)
                    .key(lock)
                    .key(ready)
                    .arg(ticket.0)
                    .arg(replid)
                    .invoke_async(&mut conn)
                    .await
            })
            .await?;
        if completed != 1 {
            tracing::warn!(
                "the revocation store lost its memory (or this rebuild's claim) while rebuilding; starting over"
            );
            return Ok(false);
        }
        tracing::info!(
            entries = entries.len(),
            "revocation set rebuilt from the database"
        );
        Ok(true)
    }

    async fn sweep(&self, _now_ms: i64) -> usize {
        // Entries expire by themselves (PXAT); nothing to do.
        0
    }

    fn kind(&self) -> &'static str {
        match self.source {
            Source::Fixed => "redis",
            Source::Sentinel { .. } => "redis-sentinel",
        }
    }

    fn suspicion(&self) -> Suspicion {
        Suspicion(vec![self.failures.load(Ordering::Acquire)])
    }

    fn needs_repush(&self) -> bool {
        self.repush.load(Ordering::Acquire)
    }

    fn repushed(&self) {
        self.repush.store(false, Ordering::Release);
    }

    fn clear_suspicion(&self, seen: &Suspicion, state: SetState) {
        let (Some(&seen), SetState::Complete) = (seen.0.first(), state) else {
            return;
        };
        let before = self.confirmed.swap(seen, Ordering::AcqRel);
        if before != seen && seen == self.failures.load(Ordering::Acquire) {
            tracing::info!("redis revocation store reconciled; /access serves again");
        }
    }
}
