//! Redis Sentinel: a primary, two replicas and three sentinels, all real
//! `redis-server` processes of this test on free ports. The primary is killed
//! right after a cancel answered 201, at a moment when the replicas have not
//! received the revocation; Sentinel promotes one of them. The revoked link
//! must never serve again, on either of two gateway instances.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use assetgate::domain::Environment;
use reqwest::StatusCode;

use crate::helpers::{
    AssetSpec, Backend, Options, TestApp, assert_error, free_port, spawn_app_with, start_instance,
};

const MASTER: &str = "agmaster";
/// Each round is a real fail-over (about 5 s here); the interleaving is
/// randomised (which instance answers the cancel, how long before the kill).
const ROUNDS: i64 = 8;

/// One `redis-server` (or sentinel) child, killed on drop.
struct Process {
    port: u16,
    child: Option<Child>,
}

impl Process {
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

struct SentinelGroup {
    dir: tempfile::TempDir,
    servers: Vec<Process>,
    sentinels: Vec<Process>,
}

fn spawn_server(port: u16, replica_of: Option<u16>) -> Process {
    let port_arg = port.to_string();
    let mut args = vec![
        "--port",
        &port_arg,
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--repl-diskless-sync",
        "yes",
        "--repl-diskless-sync-delay",
        "0",
    ];
    let primary;
    if let Some(p) = replica_of {
        primary = p.to_string();
        args.extend(["--replicaof", "127.0.0.1", &primary]);
    }
    let child = Command::new("redis-server")
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server must be installed (scripts/test.sh installs it)");
    Process {
        port,
        child: Some(child),
    }
}

fn spawn_sentinel(dir: &Path, port: u16, primary: u16) -> Process {
    // Sentinel rewrites its configuration file: each gets its own.
    let conf = dir.join(format!("sentinel-{port}.conf"));
    std::fs::write(
        &conf,
        format!(
            "port {port}\nbind 127.0.0.1\ndir {dir}\nlogfile {dir}/sentinel-{port}.log\n\
             sentinel monitor {MASTER} 127.0.0.1 {primary} 2\n\
             sentinel down-after-milliseconds {MASTER} 1000\n\
             sentinel failover-timeout {MASTER} 5000\n\
             sentinel parallel-syncs {MASTER} 2\n",
            dir = dir.display()
        ),
    )
    .expect("sentinel config");
    let child = Command::new("redis-server")
        .arg(&conf)
        .arg("--sentinel")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server (with --sentinel) must be installed");
    Process {
        port,
        child: Some(child),
    }
}

async fn query(port: u16, args: &[&str]) -> redis::RedisResult<redis::Value> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}"))?;
    let mut c = tokio::time::timeout(
        Duration::from_millis(500),
        client.get_multiplexed_async_connection(),
    )
    .await
    .map_err(|_| redis::RedisError::from((redis::ErrorKind::Io, "connect timed out")))??;
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    tokio::time::timeout(Duration::from_millis(500), cmd.query_async(&mut c))
        .await
        .map_err(|_| redis::RedisError::from((redis::ErrorKind::Io, "timed out")))?
}

async fn info_replication(port: u16) -> Option<String> {
    match query(port, &["INFO", "replication"]).await.ok()? {
        redis::Value::BulkString(b) => String::from_utf8(b).ok(),
        redis::Value::VerbatimString { text, .. } => Some(text),
        _ => None,
    }
}

async fn wait_until<F, Fut>(what: &str, within: Duration, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !probe().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl SentinelGroup {
    async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let mut servers = vec![spawn_server(ports[0], None)];
        servers.extend(ports[1..].iter().map(|&p| spawn_server(p, Some(ports[0]))));
        let mut group = Self {
            dir,
            servers,
            sentinels: Vec::new(),
        };
        wait_until("both replicas online", Duration::from_secs(20), || async {
            info_replication(ports[0])
                .await
                .is_some_and(|i| i.matches("state=online").count() == 2)
        })
        .await;
        group.sentinels = (0..3)
            .map(|_| spawn_sentinel(group.dir.path(), free_port(), ports[0]))
            .collect();
        // Sentinels find the replicas and each other through the primary.
        for s in group.sentinels.iter().map(|s| s.port).collect::<Vec<_>>() {
            wait_until(
                "sentinels to know the whole group",
                Duration::from_secs(20),
                || async move {
                    let count = |v: redis::RedisResult<redis::Value>| match v {
                        Ok(redis::Value::Array(items)) => items.len(),
                        _ => 0,
                    };
                    count(query(s, &["SENTINEL", "REPLICAS", MASTER]).await) == 2
                        && count(query(s, &["SENTINEL", "SENTINELS", MASTER]).await) == 2
                },
            )
            .await;
        }
        group
    }

    fn addresses(&self) -> String {
        self.sentinels
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The primary's port, once a majority of the sentinels names the same
    /// server and it says it is a primary.
    async fn primary(&self) -> u16 {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mut named = Vec::new();
            for s in &self.sentinels {
                if let Ok(redis::Value::Array(addr)) =
                    query(s.port, &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER]).await
                    && let Some(redis::Value::BulkString(port)) = addr.get(1)
                    && let Some(port) = std::str::from_utf8(port).ok().and_then(|p| p.parse().ok())
                {
                    named.push(port);
                }
            }
            // A majority names it and it says it is a primary (a sentinel that
            // missed a fail-over can lag behind for a while).
            for &candidate in &named {
                if named.iter().filter(|&&p| p == candidate).count() * 2 > self.sentinels.len()
                    && info_replication(candidate)
                        .await
                        .is_some_and(|i| i.contains("role:master"))
                {
                    return candidate;
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "no majority of the sentinels names a primary: {named:?}\n{}",
                    self.dump().await
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the group is at rest — every sentinel names the same
    /// primary, sees no fail-over in progress and both replicas healthy, and
    /// the primary has both replicas online — and returns the primary. A kill
    /// during a fail-over would only test Sentinel.
    async fn settled(&self) -> u16 {
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            if let Some(primary) = self.at_rest().await {
                return primary;
            }
            if Instant::now() > deadline {
                let state = self.dump().await;
                panic!("the Sentinel group did not come to rest\n{state}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn at_rest(&self) -> Option<u16> {
        fn fields(v: &redis::Value) -> std::collections::HashMap<String, String> {
            let redis::Value::Array(items) = v else {
                return Default::default();
            };
            items
                .chunks(2)
                .filter_map(|kv| match kv {
                    [redis::Value::BulkString(k), redis::Value::BulkString(v)] => Some((
                        String::from_utf8_lossy(k).into_owned(),
                        String::from_utf8_lossy(v).into_owned(),
                    )),
                    _ => None,
                })
                .collect()
        }
        let mut primary = None;
        for s in &self.sentinels {
            let master = fields(&query(s.port, &["SENTINEL", "MASTER", MASTER]).await.ok()?);
            if master.get("flags").map(String::as_str) != Some("master") {
                return None;
            }
            let port: u16 = master.get("port")?.parse().ok()?;
            if primary.is_some_and(|p| p != port) {
                return None;
            }
            primary = Some(port);
            let redis::Value::Array(replicas) = query(s.port, &["SENTINEL", "REPLICAS", MASTER])
                .await
                .ok()?
            else {
                return None;
            };
            let healthy = replicas
                .iter()
                .map(fields)
                .filter(|r| r.get("flags").map(String::as_str) == Some("slave"))
                .count();
            if healthy != 2 {
                return None;
            }
        }
        let primary = primary?;
        let info = info_replication(primary).await?;
        (info.contains("role:master") && info.matches("state=online").count() == 2)
            .then_some(primary)
    }

    /// What every server and sentinel says, for a failure message.
    async fn dump(&self) -> String {
        let mut state = String::new();
        for s in &self.servers {
            let info = info_replication(s.port).await.unwrap_or_default();
            state.push_str(&format!("--- {}\n{info}\n", s.port));
        }
        for s in &self.sentinels {
            let log =
                std::fs::read_to_string(self.dir.path().join(format!("sentinel-{}.log", s.port)))
                    .unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            state.push_str(&format!("=== sentinel {}\n", s.port));
            for l in tail.iter().rev() {
                state.push_str(l);
                state.push('\n');
            }
        }
        state
    }

    fn server(&mut self, port: u16) -> &mut Process {
        self.servers
            .iter_mut()
            .find(|s| s.port == port)
            .expect("a server of the group")
    }
}

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
            wait_until("access to serve", Duration::from_secs(20), || async {
                status(&app, link).await == StatusCode::OK
            })
            .await;
        }
        // Cut the replicas off: the primary now wants a password they do not
        // have, and drops their links. Connections already open (the
        // gateways', the sentinels') stay; the revocation reaches the primary alone.
        let client = redis::Client::open(format!("redis://127.0.0.1:{primary}")).unwrap();
        let mut c = client.get_multiplexed_async_connection().await.unwrap();
        let () = redis::pipe()
            .cmd("CONFIG")
            .arg(&["SET", "requirepass", "cut-off"])
            .ignore()
            .cmd("CLIENT")
            .arg(&["KILL", "TYPE", "replica"])
            .ignore()
            .query_async(&mut c)
            .await
            .expect("cutting the replicas off");
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
        let new_primary = group.primary().await;
        assert_ne!(
            new_primary, primary,
            "round {round}: Sentinel promoted a replica"
        );
        *group.server(primary) = spawn_server(primary, Some(new_primary));
    }
    // Most rounds really killed a primary whose last revocation no replica had.
    assert!(
        lagging_rounds >= ROUNDS / 2,
        "only {lagging_rounds} of {ROUNDS} rounds had lagging replicas"
    );
}
