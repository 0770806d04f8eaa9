//! Fulfilment: a worker inside `serve` that moves PROCESSING lines to
//! COMPLETED (asset file present and intact) or FAILED (with a message).
//!
//! Several instances may run it: a line is claimed with a lease by a
//! conditional UPDATE, so one instance works on it; a crashed instance's lease
//! runs out and another picks the line up. Completing is itself conditional on
//! PROCESSING, so a line canceled meanwhile stays CANCELED.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::storage::Storage;
use crate::store::Store;

const CLAIM_BATCH: u64 = 32;

/// Wakes the worker (register calls this).
#[derive(Clone, Debug, Default)]
pub struct FulfilmentHandle(Arc<Notify>);

impl FulfilmentHandle {
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

pub struct Worker {
    pub store: Store,
    pub storage: Storage,
    pub instance: String,
    pub lease: Duration,
    pub poll: Duration,
}

impl Worker {
    pub fn spawn(self, handle: FulfilmentHandle) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                match self.run_once().await {
                    Ok(n) if n > 0 => continue,
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "fulfilment pass failed; retrying"),
                }
                tokio::select! {
                    () = tokio::time::sleep(self.poll) => {}
                    () = handle.0.notified() => {}
                }
            }
        })
    }

    /// Claims and fulfils one batch; returns how many lines it handled.
    pub async fn run_once(&self) -> anyhow::Result<usize> {
        let lease_ms = i64::try_from(self.lease.as_millis()).unwrap_or(30_000);
        let claimed = self
            .store
            .claim_processing(&self.instance, lease_ms, CLAIM_BATCH)
            .await?;
        for (line, asset_id) in &claimed {
            let outcome = match self.store.get_asset(*asset_id).await? {
                None => Err(format!("asset {asset_id} does not exist")),
                Some(asset) => {
                    let storage = self.storage.clone();
                    let size = u64::try_from(asset.size_bytes).unwrap_or(0);
                    tokio::task::spawn_blocking(move || storage.verify(&asset.sha256, size))
                        .await?
                        .map_err(|e| e.to_string())
                }
            };
            let failed = outcome.is_err();
            let changed = self.store.finish_fulfilment(*line, outcome).await?;
            tracing::info!(line_id = %line, failed, changed, "fulfilment finished");
        }
        Ok(claimed.len())
    }
}
