//! Access history off the request path: `/access` pushes events into a bounded
//! channel; a writer task stores them in batches. A batch the database refuses
//! (an outage) is kept and retried, up to [`RETRY_BACKLOG`] events; only past
//! that bound, or when the channel itself is full, are events dropped — and
//! counted and logged. `/access` never waits for any of this, and a crash
//! loses at most the events in memory, never a revocation (those are written
//! synchronously by cancel).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::domain::{IpPolicy, LineId};
use crate::store::Store;
use crate::store::events::AccessRow;

/// Events waiting in the channel (a burst above the writer's pace).
const CAPACITY: usize = 16_384;
/// Events per write: one transaction, so one commit (and one `fsync` on
/// SQLite) per this many downloads.
const BATCH: usize = 2048;
/// How often the writer takes what the channel holds (16,384 events every
/// 50 ms: up to 327,000 events/s before anything is dropped).
const DRAIN_EVERY: Duration = Duration::from_millis(50);
/// Events kept for retry while the database refuses them (about 100 bytes each).
pub const RETRY_BACKLOG: usize = 100_000;
/// How often a kept backlog is retried.
const RETRY_EVERY: Duration = Duration::from_secs(1);

/// One access, as cheap to build as possible: the JSON is made by the writer.
#[derive(Clone, Debug)]
pub struct AccessRecord {
    /// The line the link names; `None` for a link that could not be read.
    pub line: Option<LineId>,
    pub at_ms: i64,
    pub action: &'static str,
    pub method: &'static str,
    pub status: u16,
    /// `served` or the error name.
    pub result: &'static str,
    pub range: Option<String>,
    pub client_ip: Option<std::net::IpAddr>,
    /// The request id, for refusals only: the "Reference" the buyer's error
    /// page shows, searchable in the console.
    pub request_id: Option<String>,
    /// File bytes handed to the connection (SPEC §14).
    pub bytes_sent: u64,
    /// The file body (whole, or the range asked for) was sent to its end.
    pub completed: bool,
    /// The client's `User-Agent`, first 256 characters (`history.user_agent`).
    pub user_agent: Option<String>,
}

/// The details of an access as stored (`line_events.data`), rendered
/// straight to JSON text.
#[derive(serde::Serialize)]
struct AccessData<'a> {
    action: &'static str,
    method: &'static str,
    status: u16,
    result: &'static str,
    range: Option<&'a str>,
    client_ip: Option<IpAddr>,
    bytes_sent: u64,
    completed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_agent: Option<&'a str>,
}

impl AccessRecord {
    /// The history row of this access (none for a link naming no line).
    fn row(&self, ip: IpPolicy) -> Option<AccessRow> {
        let data = AccessData {
            action: self.action,
            method: self.method,
            status: self.status,
            result: self.result,
            range: self.range.as_deref(),
            client_ip: self.client_ip.and_then(|c| ip.apply(c)),
            bytes_sent: self.bytes_sent,
            completed: self.completed,
            user_agent: self.user_agent.as_deref(),
        };
        Some(AccessRow {
            line_id: self.line?,
            at_ms: self.at_ms,
            // Plain fields: serialising them cannot fail.
            data: serde_json::to_string(&data).unwrap_or_default(),
            request_id: self.request_id.clone(),
        })
    }
}

const HOUR_MS: i64 = 3_600_000;

#[derive(Clone, Debug)]
pub struct AccessLog {
    tx: mpsc::Sender<AccessRecord>,
    dropped: Arc<Dropped>,
}

/// Events lost so far (channel full, or past the retry backlog).
#[derive(Debug, Default)]
pub struct Dropped(AtomicU64);

impl Dropped {
    fn add(&self, n: u64, why: &str) {
        let before = self.0.fetch_add(n, Ordering::Relaxed);
        // Log at the first loss and whenever the total crosses a power of two.
        if (before + n).ilog2() != before.checked_ilog2().unwrap_or(u32::MAX) {
            tracing::warn!(dropped = before + n, why, "access history events dropped");
        }
    }

    pub fn total(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl AccessLog {
    /// Never waits: when the buffer is full the event is counted and dropped.
    pub fn push(&self, event: AccessRecord) {
        if self.tx.try_send(event).is_err() {
            self.dropped.add(1, "buffer full");
        }
    }

    /// How many events were lost so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.total()
    }

    /// The loss counter alone: unlike a clone of the log, holding it does
    /// not keep the writer waiting for more events.
    pub fn dropped_counter(&self) -> Arc<Dropped> {
        self.dropped.clone()
    }
}

/// Starts the writer; the returned handle finishes after every sender is dropped
/// and what is buffered was written (or given up on).
///
/// The writer drains the channel into its backlog every [`DRAIN_EVERY`] —
/// polled, not woken per event, so a download's `push` never has to wake a
/// task — and writes the backlog one batch at a time on a task of its own. A
/// database that takes its full timeout to refuse a batch therefore never
/// lets the channel fill up behind it.
pub fn spawn_writer(store: Store, ip: IpPolicy) -> (AccessLog, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel::<AccessRecord>(CAPACITY);
    let dropped = Arc::new(Dropped::default());
    let mut writer = Writer {
        store,
        ip,
        backlog: VecDeque::new(),
        retry_at: None,
        dropped: dropped.clone(),
    };
    let handle = tokio::spawn(async move {
        let mut in_flight: Option<tokio::task::JoinHandle<Result<(), Vec<AccessRecord>>>> = None;
        let mut open = true;
        let mut tick = tokio::time::interval(DRAIN_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                done = finished(&mut in_flight), if in_flight.is_some() => {
                    in_flight = None;
                    match done {
                        Ok(Ok(())) => writer.retry_at = None,
                        Ok(Err(batch)) if open => {
                            // Back in front, in order, for a retry in a while.
                            for e in batch.into_iter().rev() {
                                writer.backlog.push_front(e);
                            }
                            writer.retry_at = Some(Instant::now() + RETRY_EVERY);
                        }
                        Ok(Err(batch)) => {
                            // Shutting down and the database refuses: give up on
                            // everything rather than hold the shutdown.
                            let n = batch.len() + writer.backlog.len();
                            writer.backlog.clear();
                            writer.dropped.add(n as u64, "database unavailable at shutdown");
                        }
                        Err(e) => tracing::error!(error = %e, "the access history write task failed"),
                    }
                },
            }
            while open {
                match rx.try_recv() {
                    Ok(e) => writer.backlog.push_back(e),
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => {
                        open = false;
                        // Shutting down: one last attempt at everything held.
                        writer.retry_at = None;
                    }
                }
            }
            writer.bound();
            if in_flight.is_none() && !writer.backlog.is_empty() && writer.due() {
                in_flight = Some(writer.start_batch());
            }
            if !open && in_flight.is_none() && (writer.backlog.is_empty() || !writer.due()) {
                break;
            }
        }
        if !writer.backlog.is_empty() {
            let n = writer.backlog.len() as u64;
            writer.dropped.add(n, "database unavailable at shutdown");
        }
    });
    (AccessLog { tx, dropped }, handle)
}

/// The write task's result, once it finishes (pending while there is none).
async fn finished<T>(
    task: &mut Option<tokio::task::JoinHandle<T>>,
) -> Result<T, tokio::task::JoinError> {
    match task {
        Some(t) => t.await,
        None => std::future::pending().await,
    }
}

struct Writer {
    store: Store,
    ip: IpPolicy,
    /// Events not yet written, oldest first (fresh ones and refused ones).
    backlog: VecDeque<AccessRecord>,
    /// No write before this (set after a refusal).
    retry_at: Option<Instant>,
    dropped: Arc<Dropped>,
}

impl Writer {
    fn due(&self) -> bool {
        self.retry_at.is_none_or(|at| Instant::now() >= at)
    }

    /// Takes up to [`BATCH`] of the oldest events and writes them on a task;
    /// the task gives them back if the database refuses them.
    fn start_batch(&mut self) -> tokio::task::JoinHandle<Result<(), Vec<AccessRecord>>> {
        let n = self.backlog.len().min(BATCH);
        let batch: Vec<AccessRecord> = self.backlog.drain(..n).collect();
        let (store, ip) = (self.store.clone(), self.ip);
        tokio::spawn(async move {
            match write_batch(&store, ip, &batch).await {
                Ok(()) => Ok(()),
                Err(e) => {
                    tracing::warn!(error = %e, "could not write access history; will retry");
                    Err(batch)
                }
            }
        })
    }

    /// Keeps the backlog within [`RETRY_BACKLOG`]: the newest beyond it are dropped.
    fn bound(&mut self) {
        if self.backlog.len() > RETRY_BACKLOG {
            let n = self.backlog.len() - RETRY_BACKLOG;
            self.backlog.truncate(RETRY_BACKLOG);
            self.dropped.add(n as u64, "retry backlog full");
        }
    }
}

/// Writes one batch: its events and its counts, in one transaction (a
/// refused batch is retried whole, so nothing is counted twice).
async fn write_batch(
    store: &Store,
    ip: IpPolicy,
    batch: &[AccessRecord],
) -> Result<(), crate::store::StoreError> {
    let rows: Vec<AccessRow> = batch.iter().filter_map(|r| r.row(ip)).collect();
    let mut counts: HashMap<(i64, &str), i64> = HashMap::new();
    for r in batch {
        *counts
            .entry((r.at_ms - r.at_ms.rem_euclid(HOUR_MS), r.result))
            .or_default() += 1;
    }
    let counts: Vec<(i64, &str, i64)> = counts.into_iter().map(|((h, r), n)| (h, r, n)).collect();
    store.record_accesses(rows, &counts).await
}
