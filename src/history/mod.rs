//! Access history off the request path: `/access` pushes events into a bounded
//! channel; a writer task stores them in batches. A crash loses at most the
//! last moments of access history, never a revocation (those are written
//! synchronously by cancel).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::json;
use tokio::sync::mpsc;

use crate::domain::{Actor, LineId};
use crate::store::Store;
use crate::store::events::{EventKind, NewEvent};

const CAPACITY: usize = 16_384;
const BATCH: usize = 512;
const FLUSH_EVERY: Duration = Duration::from_millis(250);

/// One access, as cheap to build as possible: the JSON is made by the writer.
#[derive(Clone, Debug)]
pub struct AccessRecord {
    pub line: LineId,
    pub at_ms: i64,
    pub action: &'static str,
    pub method: &'static str,
    pub status: u16,
    /// `served` or the error name.
    pub result: &'static str,
    pub range: Option<String>,
    pub client_ip: Option<std::net::IpAddr>,
}

impl From<AccessRecord> for NewEvent {
    fn from(r: AccessRecord) -> Self {
        NewEvent {
            line_id: r.line,
            kind: EventKind::Access,
            at_ms: r.at_ms,
            actor: Actor::System,
            data: json!({
                "action": r.action,
                "method": r.method,
                "status": r.status,
                "result": r.result,
                "range": r.range,
                "client_ip": r.client_ip.map(|ip| ip.to_string()),
            }),
        }
    }
}

#[derive(Clone, Debug)]
pub struct AccessLog {
    tx: mpsc::Sender<AccessRecord>,
    dropped: Arc<AtomicU64>,
}

impl AccessLog {
    /// Never waits: when the buffer is full the event is counted and dropped.
    pub fn push(&self, event: AccessRecord) {
        if self.tx.try_send(event).is_err() {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!(dropped = n, "access history buffer full; events dropped");
            }
        }
    }
}

/// Starts the writer; the returned handle finishes after every sender is dropped
/// and the last batch is written.
pub fn spawn_writer(store: Store) -> (AccessLog, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel::<AccessRecord>(CAPACITY);
    let handle = tokio::spawn(async move {
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            let first = tokio::time::timeout(FLUSH_EVERY, rx.recv()).await;
            match first {
                Ok(Some(e)) => batch.push(e),
                Ok(None) => break,
                Err(_) => {}
            }
            while batch.len() < BATCH {
                match rx.try_recv() {
                    Ok(e) => batch.push(e),
                    Err(_) => break,
                }
            }
            flush(&store, &mut batch).await;
        }
        flush(&store, &mut batch).await;
    });
    (
        AccessLog {
            tx,
            dropped: Arc::new(AtomicU64::new(0)),
        },
        handle,
    )
}

async fn flush(store: &Store, batch: &mut Vec<AccessRecord>) {
    if batch.is_empty() {
        return;
    }
    let events: Vec<NewEvent> = batch.drain(..).map(NewEvent::from).collect();
    let n = events.len();
    if let Err(e) = store.record_events(events).await {
        tracing::warn!(error = %e, events = n, "could not write access history");
    }
}
