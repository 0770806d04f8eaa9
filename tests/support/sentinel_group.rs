//! A Redis Sentinel group of real processes on free local ports — a primary,
//! two replicas, three sentinels — for the Sentinel test and the soak tool.
//! Panics (with what every server and sentinel says) when the group does not
//! behave within generous bounds.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::ports::{Reserved, reserve};

pub const MASTER: &str = "agmaster";

/// One `redis-server` (or sentinel) child, killed on drop.
pub struct Process {
    pub port: u16,
    child: std::sync::Mutex<Option<Child>>,
}

impl Process {
    pub fn new(port: u16, child: Child) -> Self {
        Self {
            port,
            child: std::sync::Mutex::new(Some(child)),
        }
    }

    /// Not killed by this harness (it may still have died by itself).
    pub fn is_running(&self) -> bool {
        self.child.lock().unwrap().is_some()
    }

    /// How the process ended, if it is meant to run but has exited by itself.
    pub fn exited(&self) -> Option<std::process::ExitStatus> {
        self.child
            .lock()
            .unwrap()
            .as_mut()?
            .try_wait()
            .ok()
            .flatten()
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.lock().unwrap().take() {
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

pub struct SentinelGroup {
    dir: tempfile::TempDir,
    pub servers: Vec<Process>,
    sentinels: Vec<Process>,
    /// Every port of the group, held until it is dropped: a killed server
    /// starts again on its own port (see `ports`).
    _ports: Vec<Reserved>,
}

pub fn spawn_server(dir: &Path, port: u16, replica_of: Option<u16>) -> Process {
    // Each server its own directory: a replica writes the RDB of a full sync
    // there, and a server loads any RDB it finds at start — shared, one
    // server would start from another's (or an earlier run's) data.
    let dir = dir.join(format!("redis-{port}"));
    std::fs::create_dir_all(&dir).expect("server dir");
    let dir = dir.display().to_string();
    let port_arg = port.to_string();
    let mut args = vec![
        "--port",
        &port_arg,
        "--dir",
        &dir,
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
    Process::new(port, child)
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
    Process::new(port, child)
}

pub async fn query(port: u16, args: &[&str]) -> redis::RedisResult<redis::Value> {
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

/// Cuts a primary's replicas off: its default user may no longer run the
/// replication handshake (`SYNC`/`PSYNC`), and their links are dropped. Every
/// other client — gateways, sentinels, new connections — is unaffected; what is
/// written next reaches the primary alone.
pub async fn cut_off_replicas(primary: u16) {
    let client = redis::Client::open(format!("redis://127.0.0.1:{primary}")).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let () = redis::pipe()
        .cmd("ACL")
        .arg(&["SETUSER", "default", "-sync", "-psync"])
        .ignore()
        .cmd("CLIENT")
        .arg(&["KILL", "TYPE", "replica"])
        .ignore()
        .query_async(&mut c)
        .await
        .expect("cutting the replicas off");
}

pub async fn info_replication(port: u16) -> Option<String> {
    match query(port, &["INFO", "replication"]).await.ok()? {
        redis::Value::BulkString(b) => String::from_utf8(b).ok(),
        redis::Value::VerbatimString { text, .. } => Some(text),
        _ => None,
    }
}

pub async fn wait_until<F, Fut>(what: &str, within: Duration, mut probe: F)
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
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let reserved: Vec<Reserved> = (0..6).map(|_| reserve()).collect();
        let ports: Vec<u16> = reserved.iter().map(|r| r.port).collect();
        let mut servers = vec![spawn_server(dir.path(), ports[0], None)];
        servers.extend(
            ports[1..3]
                .iter()
                .map(|&p| spawn_server(dir.path(), p, Some(ports[0]))),
        );
        let mut group = Self {
            dir,
            servers,
            sentinels: Vec::new(),
            _ports: reserved,
        };
        wait_until("both replicas online", Duration::from_secs(20), || async {
            info_replication(ports[0])
                .await
                .is_some_and(|i| i.matches("state=online").count() == 2)
        })
        .await;
        group.sentinels = ports[3..]
            .iter()
            .map(|&p| spawn_sentinel(group.dir.path(), p, ports[0]))
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

    pub fn addresses(&self) -> String {
        self.sentinels
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The primary's port, once a majority of the sentinels names the same
    /// server and it says it is a primary.
    pub async fn primary(&self) -> u16 {
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
    pub async fn settled(&self) -> u16 {
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

    pub async fn at_rest(&self) -> Option<u16> {
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
    pub async fn dump(&self) -> String {
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

    pub fn server(&mut self, port: u16) -> &mut Process {
        self.servers
            .iter_mut()
            .find(|s| s.port == port)
            .expect("a server of the group")
    }
}

impl SentinelGroup {
    /// Cuts the replicas off (see [`cut_off_replicas`]).
    pub async fn cut_off_replicas(&self, primary: u16) {
        cut_off_replicas(primary).await;
    }

    /// After `old` was killed: waits for a new primary, brings `old` back as
    /// its replica, and returns the new primary.
    pub async fn replace(&mut self, old: u16) -> u16 {
        let new = self.primary().await;
        assert_ne!(new, old, "Sentinel promoted a replica");
        let dir = self.dir.path().to_path_buf();
        *self.server(old) = spawn_server(&dir, old, Some(new));
        new
    }
}
