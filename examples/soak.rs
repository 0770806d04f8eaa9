//! Soak / chaos test of the revocation guarantee (run it with `scripts/soak.sh`).
//!
//! Starts a private `redis-server`, a private PostgreSQL server and two
//! gateway instances; registers many single-line orders; then, for the given
//! duration, hammers `/access` from many concurrent clients through both
//! instances while canceling lines at random, injecting Redis faults
//! (FLUSHALL, kill + restart, CLIENT PAUSE, double FLUSHALL) and PostgreSQL
//! outages (the server stopped, then started again). A **leak** is a response
//! carrying bytes for a line whose cancel had already answered 201 before the
//! request was sent. **History lost** counts download responses that left no
//! access event (every one should, even those during a database outage).
//! Loopback only; bounded in time and request count.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a tool: a failed step should stop it loudly

#[path = "../tests/support/cluster_group.rs"]
#[allow(dead_code)] // shared with the tests, which use more of it
mod cluster_group;
#[path = "../tests/support/ports.rs"]
mod ports;
#[path = "../tests/support/private_postgres.rs"]
mod private_postgres;
#[path = "../tests/support/sentinel_group.rs"]
mod sentinel_group;

use cluster_group::ClusterGroup;
use sentinel_group::{MASTER, SentinelGroup};

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use rand::Rng as _;
use rand::seq::SliceRandom as _;
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt as _;

#[derive(Parser, Debug)]
struct Args {
    /// The assetgate binary to run.
    #[arg(long, default_value = "target/release/assetgate")]
    bin: PathBuf,
    /// Seconds of load.
    #[arg(long, default_value_t = 60)]
    duration: u64,
    /// Order lines to register (each is canceled at most once).
    #[arg(long, default_value_t = 1500)]
    lines: usize,
    /// Concurrent download clients.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Cancels per second.
    #[arg(long, default_value_t = 22.0)]
    cancel_rate: f64,
    /// Seconds between injected faults.
    #[arg(long, default_value_t = 4.0)]
    fault_every: f64,
    /// Stop after this many download requests even if time remains.
    #[arg(long, default_value_t = 5_000_000)]
    max_requests: u64,
    /// Seconds between PostgreSQL outages (0: none).
    #[arg(long, default_value_t = 15.0)]
    pg_outage_every: f64,
    /// How long each PostgreSQL outage lasts, in milliseconds.
    #[arg(long, default_value_t = 1500)]
    pg_outage_ms: u64,
    /// `single`: one private redis-server, with flushes, restarts and pauses.
    /// `sentinel`: a primary, two replicas and three sentinels; the faults are
    /// fail-overs (the primary killed right after its replicas were cut off).
    /// `cluster`: three primaries with a replica each; the faults are one
    /// shard's fail-over at a time (likewise).
    #[arg(long, value_enum, default_value_t = RedisMode::Single)]
    redis: RedisMode,
    /// Seconds between fail-overs (`--redis sentinel` or `cluster`).
    #[arg(long, default_value_t = 8.0)]
    failover_every: f64,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum RedisMode {
    Single,
    Sentinel,
    Cluster,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    served: AtomicU64,
    refused_revoked: AtomicU64,
    unavailable: AtomicU64,
    other: AtomicU64,
    leaks: AtomicU64,
    /// 403 for a line no cancel was ever sent for.
    false_refusals: AtomicU64,
    cancels_201: AtomicU64,
    cancels_503: AtomicU64,
    cancels_other: AtomicU64,
    /// What the "other" cancels answered (status, or `transport`), for the table.
    cancels_other_kinds: std::sync::Mutex<std::collections::BTreeMap<String, u64>>,
    faults: AtomicU64,
    pg_outages: AtomicU64,
    /// Cluster: 503s on lines of a live shard while another shard fails over.
    unavailable_elsewhere: AtomicU64,
}

/// Cluster: the lines on the shard being failed over, from its kill until one
/// of them is served again.
type DeadShard = Arc<Mutex<Option<HashSet<usize>>>>;

/// The hash slot of each soak line's revocation bucket (default prefix and
/// bucket count), from the line id its link names.
fn line_slots(links: &HashMap<usize, String>) -> HashMap<usize, u16> {
    links
        .iter()
        .map(|(&line, url)| {
            let token = url.rsplit('/').next().unwrap();
            let claims: Value = serde_json::from_slice(
                &base64::Engine::decode(
                    &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                    token.split('.').nth(1).unwrap(),
                )
                .unwrap(),
            )
            .unwrap();
            let id: i64 = claims["sub"].as_str().unwrap().parse().unwrap();
            let tag = format!("{{assetgate:{}}}", id.rem_euclid(64));
            (line, assetgate::revocation::key_slot(&tag))
        })
        .collect()
}

/// One shard's fail-over: once the cluster is at rest, cut a random
/// primary's replica off, let cancels land on the primary alone for `gap`,
/// kill it, wait for its replica to take over, and bring it back (empty) as
/// the new primary's replica.
async fn fail_over_shard(
    group: &mut ClusterGroup,
    gap: Duration,
    killed: &Recovery,
    slots: &HashMap<usize, u16>,
    dead: &DeadShard,
) {
    let primaries = group.settled().await;
    let primary = primaries[rand::rng().random_range(0..primaries.len())];
    let ranges = group.slot_ranges().await;
    let owned = |slot: u16| {
        ranges
            .iter()
            .any(|&(a, b, p)| p == primary && (a..=b).contains(&slot))
    };
    let lines: HashSet<usize> = slots
        .iter()
        .filter(|(_, slot)| owned(**slot))
        .map(|(&line, _)| line)
        .collect();
    let slot = ranges
        .iter()
        .find(|r| r.2 == primary)
        .expect("the primary serves slots")
        .0;
    group.cut_off_replicas(primary).await;
    tokio::time::sleep(gap).await;
    *dead.lock().unwrap() = Some(lines);
    group.kill(primary);
    killed.fault_ended();
    eprintln!(
        "FAILOVER killed {primary} ({})",
        chrono::Utc::now().format("%H:%M:%S%.3f")
    );
    group.taken_over(slot, primary).await;
    group.restart(primary);
}

/// When the last fault of a kind ended, and how long until service came back.
#[derive(Default)]
struct Recovery {
    /// Milliseconds since the soak started at which a fault ended, if service
    /// has not been seen since.
    pending_since: Mutex<Option<Instant>>,
    times_ms: Mutex<Vec<u128>>,
}

impl Recovery {
    fn fault_ended(&self) {
        *self.pending_since.lock().unwrap() = Some(Instant::now());
    }

    /// A success for a request *sent* at `sent`; counts only if it was sent
    /// after the fault ended (one in flight across the fault says nothing).
    fn served(&self, sent: Instant) -> bool {
        let mut pending = self.pending_since.lock().unwrap();
        match *pending {
            Some(at) if sent >= at => {
                *pending = None;
                self.times_ms.lock().unwrap().push(at.elapsed().as_millis());
                true
            }
            _ => false,
        }
    }

    fn summary(&self) -> String {
        let mut t = self.times_ms.lock().unwrap().clone();
        t.sort_unstable();
        match (t.first(), t.last()) {
            (Some(_), Some(max)) => format!(
                "{} faults: median {} ms, max {max} ms",
                t.len(),
                t[t.len() / 2]
            ),
            _ => "none measured".to_owned(),
        }
    }
}

struct Redis {
    port: u16,
    child: Option<Child>,
    replica_of: Option<u16>,
    /// Held while it lives: it starts again on its own port (see `ports`).
    _port: ports::Reserved,
}

impl Redis {
    fn start() -> Self {
        let reserved = ports::reserve();
        let mut r = Self {
            port: reserved.port,
            child: None,
            replica_of: None,
            _port: reserved,
        };
        r.spawn();
        r
    }
    fn spawn(&mut self) {
        let mut args = vec![
            "--port".to_owned(),
            self.port.to_string(),
            "--bind".to_owned(),
            "127.0.0.1".to_owned(),
            "--save".to_owned(),
            String::new(),
            "--appendonly".to_owned(),
            "no".to_owned(),
        ];
        if let Some(primary) = self.replica_of {
            args.extend(["--replicaof", "127.0.0.1", &primary.to_string()].map(str::to_owned));
            args.extend(
                [
                    "--repl-diskless-sync",
                    "yes",
                    "--repl-diskless-sync-delay",
                    "0",
                ]
                .map(str::to_owned),
            );
        }
        let child = Command::new("redis-server")
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed");
        self.child = Some(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not start");
    }
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
    async fn cmd(&self, args: &[&str]) {
        if let Ok(client) = redis::Client::open(self.url())
            && let Ok(mut c) = client.get_multiplexed_async_connection().await
        {
            let mut cmd = redis::cmd(args[0]);
            for a in &args[1..] {
                cmd.arg(*a);
            }
            let _: Result<redis::Value, _> = cmd.query_async(&mut c).await;
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One fail-over: once the group is at rest, cut the replicas off (so none
/// receives what is written next), let cancels land on the primary alone for
/// `gap`, kill it, and bring it back as a replica of the one Sentinel promotes.
async fn fail_over(group: &mut SentinelGroup, gap: Duration, killed: &Recovery) {
    let primary = group.settled().await;
    group.cut_off_replicas(primary).await;
    tokio::time::sleep(gap).await;
    group.server(primary).kill();
    killed.fault_ended();
    eprintln!(
        "FAILOVER killed {primary} ({})",
        chrono::Utc::now().format("%H:%M:%S%.3f")
    );
    group.replace(primary).await;
}

fn cli(bin: &PathBuf, env: &[(String, String)], args: &[&str]) -> Value {
    let out = Command::new(bin)
        .envs(env.iter().cloned())
        .args(args)
        .output()
        .expect("run assetgate");
    assert!(
        out.status.success(),
        "assetgate {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

async fn start_instance(
    bin: &PathBuf,
    env: &[(String, String)],
) -> (tokio::process::Child, String) {
    // SOAK_GATEWAY_LOG=prefix: each instance logs at warn to prefix-<n>.log.
    let stderr = match std::env::var("SOAK_GATEWAY_LOG") {
        Ok(prefix) => {
            static N: AtomicU64 = AtomicU64::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            Stdio::from(std::fs::File::create(format!("{prefix}-{n}.log")).expect("log file"))
        }
        Err(_) => Stdio::null(),
    };
    let level = if std::env::var("SOAK_GATEWAY_LOG").is_ok() {
        "warn"
    } else {
        "error"
    };
    let mut child = tokio::process::Command::new(bin)
        .envs(env.iter().cloned())
        .env("ASSETGATE__SERVER__PORT", "0")
        .env("ASSETGATE__LOG__LEVEL", level)
        .env("ASSETGATE__LOG__FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .expect("start assetgate");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines
        .next_line()
        .await
        .unwrap()
        .expect("assetgate printed its URL");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_owned();
    (child, url)
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let (mut redis, mut group, mut cluster) = match args.redis {
        RedisMode::Single => (Some(Redis::start()), None, None),
        RedisMode::Sentinel => (None, Some(SentinelGroup::start().await), None),
        RedisMode::Cluster => (None, None, Some(ClusterGroup::start().await)),
    };
    let pg = Arc::new(private_postgres::PrivatePostgres::start());
    let key = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        rand::random::<[u8; 32]>(),
    );
    let redis_env: Vec<(String, String)> = match (&redis, &group, &cluster) {
        (Some(redis), _, _) => vec![("REDIS_URL".into(), redis.url())],
        (None, Some(group), _) => vec![
            ("ASSETGATE__REDIS__SENTINELS".into(), group.addresses()),
            ("ASSETGATE__REDIS__MASTER_NAME".into(), MASTER.into()),
        ],
        (None, None, Some(cluster)) => {
            vec![("ASSETGATE__REDIS__CLUSTER_NODES".into(), cluster.seeds())]
        }
        (None, None, None) => unreachable!("one Redis mode is chosen"),
    };
    let mut env: Vec<(String, String)> = vec![
        ("DATABASE_URL".into(), pg.url()),
        (
            "ASSETGATE__STORAGE__PATH".into(),
            dir.path().join("assets").display().to_string(),
        ),
        ("ASSETGATE__LINKS__SIGNING_KEY".into(), key),
        ("ASSETGATE__LOG__LEVEL".into(), "error".into()),
        ("ASSETGATE__DATABASE__MAX_CONNECTIONS".into(), "20".into()),
        // Setup registers 1,500 lines at once; the soak is not about limits.
        (
            "ASSETGATE__RATE_LIMIT__VENDOR_PER_SECOND".into(),
            "0".into(),
        ),
    ];
    env.extend(redis_env);

    eprintln!("setting up: vendor, asset, {} order lines…", args.lines);
    // Only `serve` and `migrate` create the schema; the CLI needs it first.
    cli(&args.bin, &env, &["migrate"]);
    let vendor = cli(&args.bin, &env, &["vendor", "create", "--name", "Soak"]);
    let vendor = vendor["vendor_id"].as_str().unwrap().to_owned();
    let token = cli(
        &args.bin,
        &env,
        &[
            "token",
            "create",
            "--vendor",
            &vendor,
            "--environment",
            "LIVE",
        ],
    );
    let token = token["token"].as_str().unwrap().to_owned();
    let file = dir.path().join("asset.pdf");
    let mut bytes = b"%PDF-1.4\n".to_vec();
    bytes.extend((0..4000).map(|i| b'a' + (i % 26) as u8));
    std::fs::write(&file, &bytes).unwrap();
    cli(
        &args.bin,
        &env,
        &[
            "asset",
            "add",
            "--file",
            file.to_str().unwrap(),
            "--title",
            "Soak",
        ],
    );

    let (mut a, url_a) = start_instance(&args.bin, &env).await;
    let (mut b, url_b) = start_instance(&args.bin, &env).await;
    let instances = [url_a.clone(), url_b.clone()];
    assetgate::webhooks::install_tls_provider();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();

    // Register and fulfil every line, then mint its link.
    let orders: Vec<usize> = (1..=args.lines).collect();
    for chunk in orders.chunks(32) {
        let futs = chunk.iter().map(|&o| {
            let (http, token, base) = (http.clone(), token.clone(), instances[o % 2].clone());
            async move {
                let body = json!({"asset_id": 1, "order_number": o, "order_line_id": 1, "unit_price": 1, "line_item_price": 1, "customer": "Soak"});
                let res = http.post(format!("{base}/purchase/register")).bearer_auth(&token).json(&body).send().await.unwrap();
                assert_eq!(res.status().as_u16(), 201, "register {o}");
            }
        });
        futures_util::future::join_all(futs).await;
    }
    let mut links: HashMap<usize, String> = HashMap::new();
    let setup_deadline = Instant::now() + Duration::from_secs(120);
    while links.len() < args.lines {
        assert!(Instant::now() < setup_deadline, "fulfilment did not finish");
        let missing: Vec<usize> = orders
            .iter()
            .copied()
            .filter(|o| !links.contains_key(o))
            .take(64)
            .collect();
        let futs = missing.iter().map(|&o| {
            let (http, token, base) = (http.clone(), token.clone(), url_a.clone());
            async move {
                let res = http
                    .get(format!(
                        "{base}/purchase/download-url?order_id={o}&order_line_id=1"
                    ))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .ok()?;
                if res.status().as_u16() != 200 {
                    return None;
                }
                let v: Value = res.json().await.ok()?;
                Some((o, v["url"].as_str()?.to_owned()))
            }
        });
        for (o, url) in futures_util::future::join_all(futs)
            .await
            .into_iter()
            .flatten()
        {
            links.insert(o, url);
        }
        if links.len() < args.lines {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let slots = line_slots(&links);
    let links = Arc::new(links);
    let dead: DeadShard = Arc::default();
    eprintln!(
        "setup done in {:.1}s; loading for {}s with {} clients on 2 instances…",
        started.elapsed().as_secs_f64(),
        args.duration,
        args.clients
    );

    let counters = Arc::new(Counters::default());
    let after_restart = Arc::new(Recovery::default());
    let after_flush = Arc::new(Recovery::default());
    let after_pg = Arc::new(Recovery::default());
    let after_failover = Arc::new(Recovery::default());
    let canceled: Arc<Mutex<HashSet<usize>>> = Arc::default();
    // Lines a cancel was sent for (whatever it answered): only these may be refused.
    let attempted: Arc<Mutex<HashSet<usize>>> = Arc::default();
    let deadline = Instant::now() + Duration::from_secs(args.duration);

    // Download clients.
    let mut tasks = Vec::new();
    for _ in 0..args.clients {
        let (http, links, counters, canceled, instances) = (
            http.clone(),
            links.clone(),
            counters.clone(),
            canceled.clone(),
            instances.clone(),
        );
        let (attempted, dead) = (attempted.clone(), dead.clone());
        let (after_restart, after_flush, after_failover) = (
            after_restart.clone(),
            after_flush.clone(),
            after_failover.clone(),
        );
        let (url_a, max) = (url_a.clone(), args.max_requests);
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline && counters.requests.load(Ordering::Relaxed) < max {
                let (line, target) = {
                    let mut rng = rand::rng();
                    (
                        rng.random_range(1..=links.len()),
                        instances[rng.random_range(0..2)].clone(),
                    )
                };
                let url = links[&line].replacen(&url_a, &target, 1);
                let was_canceled = canceled.lock().unwrap().contains(&line);
                counters.requests.fetch_add(1, Ordering::Relaxed);
                let sent = Instant::now();
                let Ok(res) = http.get(&url).header("Range", "bytes=0-99").send().await else {
                    counters.other.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let status = res.status().as_u16();
                let body = res.bytes().await.unwrap_or_default();
                match status {
                    200 | 206 => {
                        counters.served.fetch_add(1, Ordering::Relaxed);
                        after_restart.served(sent);
                        after_flush.served(sent);
                        // Cluster: back when a line of the dead shard serves.
                        let mut dead = dead.lock().unwrap();
                        match dead.as_ref() {
                            Some(lines) if lines.contains(&line) => {
                                if after_failover.served(sent) {
                                    *dead = None;
                                }
                            }
                            Some(_) => {}
                            None => {
                                after_failover.served(sent);
                            }
                        }
                        drop(dead);
                        if was_canceled && !body.is_empty() {
                            counters.leaks.fetch_add(1, Ordering::Relaxed);
                            eprintln!(
                                "LEAK: line {line} served {status} by {target} after its cancel answered 201 ({})",
                                chrono::Utc::now().format("%H:%M:%S%.3f")
                            );
                        }
                    }
                    403 => {
                        counters.refused_revoked.fetch_add(1, Ordering::Relaxed);
                        // Checked once the answer is in: no cancel was sent for it even by then.
                        if !attempted.lock().unwrap().contains(&line) {
                            counters.false_refusals.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    503 => {
                        counters.unavailable.fetch_add(1, Ordering::Relaxed);
                        if dead
                            .lock()
                            .unwrap()
                            .as_ref()
                            .is_some_and(|lines| !lines.contains(&line))
                        {
                            counters.unavailable_elsewhere.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    _ => {
                        counters.other.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }

    // Canceller: one line at a time, at the given rate, through either instance.
    let cancel_task = {
        let (http, counters, canceled, instances, token) = (
            http.clone(),
            counters.clone(),
            canceled.clone(),
            instances.clone(),
            token.clone(),
        );
        let (after_pg, attempted) = (after_pg.clone(), attempted.clone());
        let mut queue: Vec<usize> = (1..=args.lines).collect();
        queue.shuffle(&mut rand::rng());
        let every = Duration::from_secs_f64(1.0 / args.cancel_rate);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            while Instant::now() < deadline {
                tick.tick().await;
                let Some(line) = queue.pop() else { break };
                attempted.lock().unwrap().insert(line);
                let target = instances[rand::rng().random_range(0..2)].clone();
                let sent = Instant::now();
                let res = http
                    .delete(format!(
                        "{target}/purchase/cancel?order_id={line}&order_line_id=1"
                    ))
                    .bearer_auth(&token)
                    .header("Idempotency-Key", format!("soak-{line}"))
                    .send()
                    .await;
                match res.map(|r| r.status().as_u16()) {
                    Ok(201) => {
                        if std::env::var("SOAK_GATEWAY_LOG").is_ok() {
                            eprintln!(
                                "CANCEL {line} 201 via {target} ({})",
                                chrono::Utc::now().format("%H:%M:%S%.3f")
                            );
                        }
                        canceled.lock().unwrap().insert(line);
                        counters.cancels_201.fetch_add(1, Ordering::Relaxed);
                        after_pg.served(sent);
                    }
                    Ok(503) => {
                        // Not confirmed (Redis) or not reached (PostgreSQL):
                        // retry in about a second, same key.
                        counters.cancels_503.fetch_add(1, Ordering::Relaxed);
                        let at = queue.len().saturating_sub(20);
                        queue.insert(at, line);
                    }
                    Ok(409) => {
                        // `idempotency_request_in_progress` ("retry shortly"):
                        // a shop retries too. Counted among the others.
                        *counters
                            .cancels_other_kinds
                            .lock()
                            .unwrap()
                            .entry("409, retried".to_owned())
                            .or_default() += 1;
                        counters.cancels_other.fetch_add(1, Ordering::Relaxed);
                        let at = queue.len().saturating_sub(20);
                        queue.insert(at, line);
                    }
                    other => {
                        counters.cancels_other.fetch_add(1, Ordering::Relaxed);
                        let kind = match other {
                            Ok(status) => status.to_string(),
                            Err(e) if e.is_timeout() => "timeout".to_owned(),
                            Err(_) => "transport".to_owned(),
                        };
                        *counters
                            .cancels_other_kinds
                            .lock()
                            .unwrap()
                            .entry(kind)
                            .or_default() += 1;
                    }
                }
            }
        })
    };

    // PostgreSQL outages, on their own schedule.
    let pg_task = {
        let (pg, counters, after_pg) = (pg.clone(), counters.clone(), after_pg.clone());
        let (every, outage) = (
            args.pg_outage_every,
            Duration::from_millis(args.pg_outage_ms),
        );
        tokio::spawn(async move {
            if every <= 0.0 {
                return;
            }
            while Instant::now() + Duration::from_secs_f64(every) + outage < deadline {
                tokio::time::sleep(Duration::from_secs_f64(every)).await;
                let pg2 = pg.clone();
                tokio::task::spawn_blocking(move || pg2.stop())
                    .await
                    .unwrap();
                tokio::time::sleep(outage).await;
                let pg2 = pg.clone();
                tokio::task::spawn_blocking(move || pg2.start_again())
                    .await
                    .unwrap();
                after_pg.fault_ended();
                counters.pg_outages.fetch_add(1, Ordering::Relaxed);
            }
        })
    };

    // Chaos. Single Redis: FLUSHALL, kill + restart, CLIENT PAUSE, and a
    // double FLUSHALL (the second lands while an instance is rebuilding), in
    // turn. Sentinel: fail-overs with the replicas cut off first.
    let mut n = 0u64;
    if let Some(group) = group.as_mut() {
        while Instant::now() + Duration::from_secs_f64(args.failover_every) < deadline {
            tokio::time::sleep(Duration::from_secs_f64(args.failover_every)).await;
            // Writes after the cut reach the primary alone (random gap, 0–300 ms).
            let gap = Duration::from_millis(rand::rng().random_range(0..300));
            fail_over(group, gap, &after_failover).await;
            counters.faults.fetch_add(1, Ordering::Relaxed);
        }
    }
    if let Some(cluster) = cluster.as_mut() {
        while Instant::now() + Duration::from_secs_f64(args.failover_every) < deadline {
            tokio::time::sleep(Duration::from_secs_f64(args.failover_every)).await;
            let gap = Duration::from_millis(rand::rng().random_range(0..300));
            fail_over_shard(cluster, gap, &after_failover, &slots, &dead).await;
            counters.faults.fetch_add(1, Ordering::Relaxed);
        }
    }
    while let Some(redis) = redis.as_mut()
        && Instant::now() + Duration::from_secs_f64(args.fault_every) < deadline
    {
        tokio::time::sleep(Duration::from_secs_f64(args.fault_every)).await;
        match n % 4 {
            0 => {
                redis.cmd(&["FLUSHALL"]).await;
                after_flush.fault_ended();
            }
            3 => {
                redis.cmd(&["FLUSHALL"]).await;
                tokio::time::sleep(Duration::from_millis(50)).await;
                redis.cmd(&["FLUSHALL"]).await;
                after_flush.fault_ended();
            }
            1 => {
                redis.kill();
                tokio::time::sleep(Duration::from_millis(800)).await;
                redis.spawn();
                after_restart.fault_ended();
            }
            _ => redis.cmd(&["CLIENT", "PAUSE", "800", "ALL"]).await,
        }
        n += 1;
        counters.faults.fetch_add(1, Ordering::Relaxed);
    }
    for t in tasks {
        let _ = t.await;
    }
    let _ = cancel_task.await;
    let _ = pg_task.await;

    // Stop both instances gracefully (SIGTERM): their history writers flush
    // what they hold. Then every download that got an answer must have left
    // exactly one access event.
    for child in [&mut a, &mut b] {
        if let Some(pid) = child.id() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status();
        }
        let _ = tokio::time::timeout(Duration::from_secs(40), child.wait()).await;
    }
    let answered = {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        g(&counters.served) + g(&counters.refused_revoked) + g(&counters.unavailable)
    };
    let db = sea_orm::Database::connect(pg.url()).await.unwrap();
    let recorded = access_events(&db).await;
    let history_lost = answered.saturating_sub(recorded);

    let c = &counters;
    let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
    println!("| metric | value |");
    println!("|---|---|");
    println!("| duration (s) | {} |", args.duration);
    println!("| instances | 2 |");
    println!("| download requests | {} |", g(&c.requests));
    println!("| served (200/206) | {} |", g(&c.served));
    println!("| refused 403 access_revoked | {} |", g(&c.refused_revoked));
    println!(
        "| refused 503 revocation_unavailable | {} |",
        g(&c.unavailable)
    );
    println!("| other / transport errors | {} |", g(&c.other));
    println!("| cancels answered 201 | {} |", g(&c.cancels_201));
    println!("| cancels answered 503 (retried) | {} |", g(&c.cancels_503));
    let kinds = c.cancels_other_kinds.lock().unwrap();
    let kinds = if kinds.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} × {n}")).collect();
        format!(" ({})", list.join(", "))
    };
    println!("| cancels other | {}{kinds} |", g(&c.cancels_other));
    if args.redis == RedisMode::Sentinel {
        println!(
            "| Redis fail-overs (Sentinel; primary killed after its replicas were cut off) | {} |",
            g(&c.faults)
        );
        println!(
            "| serving again after the primary was killed | {} |",
            after_failover.summary()
        );
    } else if args.redis == RedisMode::Cluster {
        println!(
            "| Redis Cluster fail-overs (one shard's primary killed after its replica was cut off) | {} |",
            g(&c.faults)
        );
        println!(
            "| the dead shard's lines serving again after its primary was killed | {} |",
            after_failover.summary()
        );
        println!(
            "| 503s on the live shards' lines during fail-overs | {} |",
            g(&c.unavailable_elsewhere)
        );
    } else {
        println!(
            "| Redis faults injected | {} (FLUSHALL, kill + restart, CLIENT PAUSE, double FLUSHALL) |",
            g(&c.faults)
        );
    }
    println!(
        "| PostgreSQL outages | {} ({} ms each) |",
        g(&c.pg_outages),
        args.pg_outage_ms
    );
    if args.redis == RedisMode::Single {
        println!(
            "| serving again after a Redis restart (empty) | {} |",
            after_restart.summary()
        );
        println!(
            "| serving again after a FLUSHALL | {} |",
            after_flush.summary()
        );
    }
    println!(
        "| cancels answering 201 again after PostgreSQL returned | {} |",
        after_pg.summary()
    );
    println!("| download answers / access events recorded | {answered} / {recorded} |");
    println!("| **history events lost** | **{history_lost}** |");
    println!(
        "| refused 403 for a line never canceled | {} |",
        g(&c.false_refusals)
    );
    println!("| **leaks** | **{}** |", g(&c.leaks));

    drop(redis);
    drop(group);
    drop(db);
    if g(&c.leaks) > 0 || g(&c.false_refusals) > 0 {
        std::process::exit(1);
    }
}

async fn access_events(db: &sea_orm::DatabaseConnection) -> u64 {
    use sea_orm::ConnectionTrait as _;
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM line_events WHERE kind = 'access'",
        ))
        .await
        .unwrap()
        .unwrap();
    u64::try_from(row.try_get::<i64>("", "n").unwrap()).unwrap_or(0)
}
