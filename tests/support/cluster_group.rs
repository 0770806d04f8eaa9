//! A Redis Cluster of real processes on free local ports — three primaries,
//! each with one replica, made with `redis-cli --cluster create` — for the
//! cluster tests and the soak tool. Panics (with what every node says) when
//! the cluster does not behave within generous bounds.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::ports::{Reserved, reserve};
use crate::sentinel_group::{Process, info_replication, query, wait_until};

pub struct ClusterGroup {
    dir: tempfile::TempDir,
    pub nodes: Vec<Process>,
    /// Each node's port and its bus port (`+ 10000`), held until the group is
    /// dropped: a killed node starts again on its own ports (see `ports`).
    _ports: Vec<Reserved>,
}

fn spawn_node(dir: &Path, port: u16) -> Process {
    // One directory per node: its nodes.conf (the cluster's membership, kept
    // across a restart) and nothing else (no persistence).
    let dir = dir.join(format!("node-{port}"));
    std::fs::create_dir_all(&dir).expect("node dir");
    let dir = dir.display().to_string();
    let port_arg = port.to_string();
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port_arg,
            "--dir",
            &dir,
            "--logfile",
            "redis.log",
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            "1000",
            // A lost shard stops only its own slots (the default stops the
            // whole cluster while a slot is uncovered).
            "--cluster-require-full-coverage",
            "no",
            // A replica takes over however long it was cut off.
            "--cluster-replica-validity-factor",
            "0",
            "--repl-diskless-sync",
            "yes",
            "--repl-diskless-sync-delay",
            "0",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server must be installed (scripts/test.sh installs it)");
    Process::new(port, child)
}

fn text(v: redis::RedisResult<redis::Value>) -> String {
    match v {
        Ok(redis::Value::BulkString(b)) => String::from_utf8_lossy(&b).into_owned(),
        Ok(redis::Value::VerbatimString { text, .. }) => text,
        Ok(other) => format!("{other:?}"),
        Err(e) => format!("error: {e}"),
    }
}

impl ClusterGroup {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let reserved: Vec<Reserved> = (0..6).map(|_| reserve()).collect();
        let ports: Vec<u16> = reserved.iter().map(|r| r.port).collect();
        let nodes: Vec<Process> = ports.iter().map(|&p| spawn_node(dir.path(), p)).collect();
        for &p in &ports {
            wait_until(
                "a cluster node to answer",
                Duration::from_secs(10),
                || async move { query(p, &["PING"]).await.is_ok() },
            )
            .await;
        }
        let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .expect("redis-cli must be installed (it comes with redis-server)");
        assert!(
            created.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&created.stdout),
            String::from_utf8_lossy(&created.stderr)
        );
        let group = Self {
            dir,
            nodes,
            _ports: reserved,
        };
        group.settled().await;
        group
    }

    /// `host:port` of every node, comma-separated (redis.cluster_nodes).
    pub fn seeds(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect::<Vec<_>>()
            .join(",")
    }

    fn live_ports(&self) -> Vec<u16> {
        self.nodes
            .iter()
            .filter(|n| n.is_running())
            .map(|n| n.port)
            .collect()
    }

    /// (first slot, last slot, primary's port) of every range, as the first
    /// live node that answers `CLUSTER SLOTS` says.
    pub async fn slot_ranges(&self) -> Vec<(u16, u16, u16)> {
        for port in self.live_ports() {
            let Ok(redis::Value::Array(ranges)) = query(port, &["CLUSTER", "SLOTS"]).await else {
                continue;
            };
            let mut out = Vec::new();
            for range in ranges {
                let redis::Value::Array(f) = range else {
                    continue;
                };
                if let (
                    Some(redis::Value::Int(start)),
                    Some(redis::Value::Int(end)),
                    Some(redis::Value::Array(primary)),
                ) = (f.first(), f.get(1), f.get(2))
                    && let Some(redis::Value::Int(p)) = primary.get(1)
                {
                    out.push((
                        u16::try_from(*start).unwrap(),
                        u16::try_from(*end).unwrap(),
                        u16::try_from(*p).unwrap(),
                    ));
                }
            }
            return out;
        }
        Vec::new()
    }

    /// The primary serving `slot`, as a live node's `CLUSTER SLOTS` says.
    pub async fn primary_of_slot(&self, slot: u16) -> Option<u16> {
        self.slot_ranges()
            .await
            .into_iter()
            .find(|(start, end, _)| (*start..=*end).contains(&slot))
            .map(|(_, _, port)| port)
    }

    /// The cluster's own hash of a key (`CLUSTER KEYSLOT`).
    pub async fn keyslot(&self, key: &str) -> u16 {
        for port in self.live_ports() {
            if let Ok(redis::Value::Int(slot)) = query(port, &["CLUSTER", "KEYSLOT", key]).await {
                return u16::try_from(slot).expect("slot");
            }
        }
        panic!("no cluster node answers CLUSTER KEYSLOT");
    }

    /// Waits until the cluster is at rest: every live node says the cluster
    /// is ok, three primaries serve all slots, and each has a replica online.
    /// Returns the primaries' ports.
    pub async fn settled(&self) -> Vec<u16> {
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            if let Some(primaries) = self.at_rest().await {
                return primaries;
            }
            if Instant::now() > deadline {
                panic!(
                    "the Redis cluster did not come to rest\n{}",
                    self.dump().await
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn at_rest(&self) -> Option<Vec<u16>> {
        let live = self.live_ports();
        let mut primaries = Vec::new();
        for &port in &live {
            let info = text(query(port, &["CLUSTER", "INFO"]).await);
            if !info.contains("cluster_state:ok") || !info.contains("cluster_slots_assigned:16384")
            {
                return None;
            }
            let repl = info_replication(port).await?;
            if repl.contains("role:master") {
                if !repl.contains("state=online") {
                    return None;
                }
                primaries.push(port);
            } else if !repl.contains("master_link_status:up") {
                return None;
            }
        }
        (primaries.len() == 3 && live.len() == 6).then_some(primaries)
    }

    /// Kills a node (SIGKILL: it loses everything it held in memory).
    pub fn kill(&mut self, port: u16) {
        self.node(port).kill();
    }

    /// Starts a killed node again on its port and directory: it rejoins the
    /// cluster (as a replica of whoever took over its slots), empty.
    pub fn restart(&mut self, port: u16) {
        let fresh = spawn_node(self.dir.path(), port);
        *self.node(port) = fresh;
    }

    fn node(&mut self, port: u16) -> &mut Process {
        self.nodes
            .iter_mut()
            .find(|n| n.port == port)
            .expect("a node of this cluster")
    }

    /// Waits until some live node other than `old` primary serves `slot`.
    pub async fn taken_over(&self, slot: u16, old: u16) -> u16 {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(p) = self.primary_of_slot(slot).await
                && p != old
                && info_replication(p)
                    .await
                    .is_some_and(|i| i.contains("role:master"))
            {
                return p;
            }
            if Instant::now() > deadline {
                panic!("no replica took over slot {slot}\n{}", self.dump().await);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Cuts a primary's replica off: what is written next reaches the primary alone.
    pub async fn cut_off_replicas(&self, primary: u16) {
        crate::sentinel_group::cut_off_replicas(primary).await;
    }

    /// The port of a primary's (first) replica, from its `INFO replication`.
    pub async fn replica_of(&self, primary: u16) -> Option<u16> {
        let info = info_replication(primary).await?;
        let line = info.lines().find(|l| l.starts_with("slave0:"))?;
        line.split(',')
            .find_map(|f| f.strip_prefix("port="))
            .and_then(|p| p.parse().ok())
    }

    /// Whether a node holds `key` (a replica is asked with READONLY).
    pub async fn holds(&self, port: u16, key: &str) -> bool {
        let Ok(client) = redis::Client::open(format!("redis://127.0.0.1:{port}")) else {
            return false;
        };
        let Ok(Ok(mut c)) = tokio::time::timeout(
            Duration::from_millis(500),
            client.get_multiplexed_async_connection(),
        )
        .await
        else {
            return false;
        };
        let asked: redis::RedisResult<((), i64)> = redis::pipe()
            .cmd("READONLY")
            .cmd("EXISTS")
            .arg(key)
            .query_async(&mut c)
            .await;
        matches!(asked, Ok(((), 1)))
    }

    /// What every node says, for a failure message: for a node that is
    /// meant to run but has exited, how it ended and the end of its log.
    pub async fn dump(&self) -> String {
        let mut out = String::new();
        for node in &self.nodes {
            if let Some(status) = node.exited() {
                let log = std::fs::read_to_string(
                    self.dir
                        .path()
                        .join(format!("node-{}/redis.log", node.port)),
                )
                .unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(15).collect();
                out.push_str(&format!(
                    "--- {} EXITED ({status}); its log ends:\n{}\n",
                    node.port,
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                ));
            }
        }
        for port in self.live_ports() {
            out.push_str(&format!(
                "--- {port}\n{}\n{}\n",
                text(query(port, &["CLUSTER", "NODES"]).await),
                text(query(port, &["CLUSTER", "INFO"]).await)
                    .lines()
                    .take(3)
                    .collect::<Vec<_>>()
                    .join(" ")
            ));
        }
        out
    }
}
