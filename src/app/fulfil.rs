//! Fulfilment: PROCESSING lines become COMPLETED (the asset's file is present
//! and intact in storage) or FAILED (with a message).
//!
//! Several instances may run it: a line is claimed with a lease by a
//! conditional UPDATE, so one instance works on it; a crashed instance's lease
//! runs out and another picks the line up. Completing is itself conditional on
//! PROCESSING, so a line canceled meanwhile stays CANCELED.

use std::time::Duration;

use super::App;
use super::worker::{Job, Pass, Wake};

/// Lines claimed per pass.
const CLAIM_BATCH: u64 = 32;

impl App {
    /// Claims and fulfils one batch; returns how many lines it handled.
    pub async fn fulfil_pending(&self, instance: &str, lease: Duration) -> anyhow::Result<usize> {
        let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(30_000);
        let claimed = self
            .store
            .claim_processing(instance, lease_ms, CLAIM_BATCH)
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

    /// The wake-up handle of the fulfilment worker (register pulls it).
    pub fn fulfilment_wake(&self) -> Wake {
        self.fulfilment.clone()
    }
}

/// The fulfilment worker of one instance.
pub struct Fulfilment {
    pub app: App,
    /// This instance's name in claims.
    pub instance: String,
    pub lease: Duration,
}

#[async_trait::async_trait]
impl Job for Fulfilment {
    async fn pass(&self) -> anyhow::Result<Pass> {
        let n = self.app.fulfil_pending(&self.instance, self.lease).await?;
        Ok(if n > 0 { Pass::More } else { Pass::Idle })
    }
}
