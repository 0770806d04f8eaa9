//! Redis revocation set, shared by every instance of a fleet.
//!
//! Layout (all keys share the hash tag `{prefix}` so a future Redis Cluster
//! keeps them in one slot):
//!
//! * `{prefix}:rev:l:{line_id}` = `1`, expiring (`PXAT`) when no link can need it
//!   any more (cancel time + link TTL + margin): the set bounds itself.
//! * `{prefix}:rev:ready` = generation id, no expiry. Written only after a full
//!   rebuild from the database. If Redis loses its memory (restart without
//!   persistence, FLUSHALL, fail-over to an empty replica) the marker is gone
//!   with the entries, and every check sees it in the same round trip
//!   (`MGET ready line`), so access fails closed until the set is rebuilt.
//! * `{prefix}:rev:lock` = rebuild generation, `NX PX`: one instance rebuilds at
//!   a time. It is taken *before* the database is read, and the ready marker is
//!   set (by a script, atomically) only while it still holds the same
//!   generation: a loss of memory in the middle of a rebuild voids it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::AsyncCommands as _;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{RebuildTicket, Revocation, RevocationError, RevocationStore, SetState};
use crate::domain::{LineId, now_ms};

const REBUILD_LOCK_MS: u64 = 10_000;

/// Marks the set complete only if the rebuild claim (`KEYS[1]`) still holds
/// this rebuild's generation (`ARGV[1]`). A FLUSHALL, a restart or a fail-over
/// after the claim was taken removes it, and with it any entry written since
/// the database was read, so the set must not be declared complete.
const COMPLETE_IF_CLAIMED: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[1])
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
}
const WRITE_CHUNK: usize = 1000;

pub struct RedisRevocations {
    id: u64,
    client: redis::Client,
    config: ConnectionManagerConfig,
    /// For writes, the maintainer and anything off the HTTP worker threads,
    /// with the failure count it was made at (replaced like the local ones).
    conn: std::sync::Mutex<(u64, ConnectionManager)>,
    timeout: Duration,
    ready_key: String,
    lock_key: String,
    line_prefix: String,
    instance: String,
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
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), config.clone())
            .map_err(|e| anyhow::anyhow!("creating the Redis connection: {e}"))?;
        let tag = format!("{{{prefix}}}");
        Ok(Self {
            id: NEXT_STORE_ID.fetch_add(1, Ordering::Relaxed),
            client,
            config,
            conn: std::sync::Mutex::new((1, conn)),
            timeout,
            ready_key: format!("{tag}:rev:ready"),
            lock_key: format!("{tag}:rev:lock"),
            line_prefix: format!("{tag}:rev:l:"),
            instance: instance.to_owned(),
            failures: AtomicU64::new(1),
            confirmed: AtomicU64::new(0),
        })
    }

    /// This thread's connection (created on first use, on this thread's runtime).
    ///
    /// A connection made before the latest failed exchange is replaced: after
    /// Redis restarts, every thread's old socket is dead, and each would
    /// otherwise fail its first request — and put the instance back under
    /// suspicion — once more, one thread after another.
    fn local_conn(&self) -> ConnectionManager {
        let failures = self.failures.load(Ordering::Acquire);
        LOCAL_CONNECTIONS.with(|map| {
            let mut map = map.borrow_mut();
            if let Some((made_at, conn)) = map.get(&self.id)
                && *made_at == failures
            {
                return conn.clone();
            }
            match ConnectionManager::new_lazy_with_config(self.client.clone(), self.config.clone())
            {
                Ok(conn) => {
                    map.insert(self.id, (failures, conn.clone()));
                    conn
                }
                Err(_) => self.shared_conn(),
            }
        })
    }

    /// The connection for writes, replaced after a failed exchange.
    fn shared_conn(&self) -> ConnectionManager {
        let failures = self.failures.load(Ordering::Acquire);
        // Nothing done under this lock can leave it inconsistent, poisoned or not.
        let mut guard = self
            .conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if guard.0 != failures
            && let Ok(fresh) =
                ConnectionManager::new_lazy_with_config(self.client.clone(), self.config.clone())
        {
            *guard = (failures, fresh);
        }
        guard.1.clone()
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
        let n = self.failures.fetch_add(1, Ordering::AcqRel) + 1;
        tracing::debug!(error = %outcome, failures = n, "redis revocation store exchange failed");
        if self.confirmed.load(Ordering::Acquire) + 1 == n {
            // Log the first failure of an outage, not every request during it.
            tracing::warn!(error = %outcome, "redis revocation store failed; /access fails closed until reconciled");
        }
        Err(RevocationError::Unreachable)
    }

    async fn write(&self, entries: &[Revocation]) -> Result<(), RevocationError> {
        let now = now_ms();
        let live: Vec<&Revocation> = entries.iter().filter(|r| r.until_ms > now).collect();
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
            let mut conn = self.shared_conn();
            self.run(async move { pipe.query_async::<()>(&mut conn).await })
                .await?;
        }
        Ok(())
    }

    /// How many revocation entries Redis holds now (for tests and operators).
    pub async fn entry_count(&self) -> Result<usize, RevocationError> {
        let mut conn = self.shared_conn();
        let pattern = format!("{}*", self.line_prefix);
        self.run(async move {
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
        if self.suspicion() != self.confirmed.load(Ordering::Acquire) {
            return Err(RevocationError::Unreachable);
        }
        let mut conn = self.local_conn();
        let keys = [self.ready_key.as_str(), &self.line_key(line)];
        let (ready, entry): (Option<String>, Option<String>) = self
            .run(async move { redis::cmd("MGET").arg(&keys).query_async(&mut conn).await })
            .await?;
        match (ready, entry) {
            (None, _) => Err(RevocationError::Incomplete),
            (Some(_), entry) => Ok(entry.is_some()),
        }
    }

    async fn revoke(&self, entries: &[Revocation]) -> Result<(), RevocationError> {
        // If Redis lost its memory, the entry still lands and the missing ready
        // marker keeps every instance failing closed until a rebuild from the
        // database (which already holds this cancel) completes the set.
        self.write(entries).await
    }

    async fn state(&self) -> SetState {
        let mut conn = self.shared_conn();
        let key = self.ready_key.clone();
        match self
            .run(async move { conn.exists::<_, bool>(key).await })
            .await
        {
            Ok(true) => SetState::Complete,
            Ok(false) => SetState::Incomplete,
            Err(_) => SetState::Unreachable,
        }
    }

    async fn begin_rebuild(&self) -> Result<Option<RebuildTicket>, RevocationError> {
        let generation = format!("{}:{}", self.instance, uuid::Uuid::new_v4().simple());
        let mut conn = self.shared_conn();
        let (lock, value) = (self.lock_key.clone(), generation.clone());
        let acquired: Option<String> = self
            .run(async move {
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
        Ok(acquired.map(|_| RebuildTicket(generation)))
    }

    async fn finish_rebuild(
        &self,
        ticket: RebuildTicket,
        entries: &[Revocation],
    ) -> Result<bool, RevocationError> {
        self.write(entries).await?;
        let mut conn = self.shared_conn();
        let (lock, ready) = (self.lock_key.clone(), self.ready_key.clone());
        let completed: i64 = self
            .run(async move {
                redis::Script::new(COMPLETE_IF_CLAIMED)
                    .key(lock)
                    .key(ready)
                    .arg(ticket.0)
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
        "redis"
    }

    fn suspicion(&self) -> u64 {
        self.failures.load(Ordering::Acquire)
    }

    fn clear_suspicion(&self, seen: u64) {
        let before = self.confirmed.swap(seen, Ordering::AcqRel);
        if before != seen && seen == self.suspicion() {
            tracing::info!("redis revocation store reconciled; /access serves again");
        }
    }
}
