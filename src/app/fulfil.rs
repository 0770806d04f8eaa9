//! Fulfilment: PROCESSING lines become COMPLETED (the asset's file is present
//! and intact in storage) or FAILED (with a message).
//!
//! Several instances may run it: a line is claimed with a lease by a
//! conditional UPDATE, so one instance works on it; a crashed instance's lease
//! runs out and another picks the line up. Completing is itself conditional on
//! PROCESSING, so a line canceled meanwhile stays CANCELED.

use std::sync::Arc;
use std::time::Duration;

use super::App;
use super::webhooks::line_event;
use super::worker::{Health, Job, Pass, Wake};
use crate::domain::{EventType, now_ms};

/// How a transient fulfilment failure is retried.
#[derive(Clone, Copy, Debug)]
pub struct Retry {
    /// Claims before a line that keeps failing transiently is FAILED.
    pub max_attempts: i32,
    /// Delay after the first failure; doubled after each further one.
    pub base_ms: i64,
}

impl Retry {
    fn delay_ms(self, attempt: i32) -> i64 {
        let doublings = u32::try_from(attempt.saturating_sub(1))
            .unwrap_or(0)
            .min(16);
        self.base_ms.saturating_mul(1 << doublings)
    }
}

/// Lines claimed per pass.
const CLAIM_BATCH: u64 = 32;

impl App {
    /// Claims and fulfils one batch; returns how many lines it handled.
    /// A transient failure (the file could not be read) is retried with
    /// exponential backoff, up to `retry.max_attempts` claims, before FAILED.
    pub async fn fulfil_pending(
        &self,
        instance: &str,
        lease: Duration,
        retry: Retry,
    ) -> anyhow::Result<usize> {
        let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(30_000);
        let claimed = self
            .store
            .claim_processing(instance, lease_ms, CLAIM_BATCH)
            .await?;
        for c in &claimed {
            let outcome = match self.store.get_asset(c.asset).await? {
                None => Err(format!("asset {} does not exist", c.asset)),
                Some(asset) => {
                    let size = u64::try_from(asset.size_bytes).unwrap_or(0);
                    match self.storage.check_for_sale(&asset.sha256, size).await {
                        Err(e) if e.is_transient() && c.attempt < retry.max_attempts => {
                            let delay = retry.delay_ms(c.attempt);
                            tracing::warn!(line_id = %c.line, attempt = c.attempt, retry_in_ms = delay, problem = %e, "fulfilment failed; will retry");
                            self.store
                                .retry_fulfilment_at(c.line, now_ms() + delay)
                                .await?;
                            continue;
                        }
                        Err(e) if e.is_transient() => {
                            Err(format!("{e} (after {} attempts)", c.attempt))
                        }
                        other => other.map_err(|e| e.to_string()),
                    }
                }
            };
            let failed = outcome.is_err();
            let kind = if failed {
                EventType::Failed
            } else {
                EventType::Completed
            };
            let changed = self
                .store
                .finish_fulfilment(c.line, outcome, |line| line_event(kind, line))
                .await?;
            if changed {
                self.deliveries.wake();
            }
            tracing::info!(line_id = %c.line, failed, changed, "fulfilment finished");
        }
        Ok(claimed.len())
    }

    /// The wake-up handle of the fulfilment worker (register pulls it).
    pub fn fulfilment_wake(&self) -> Wake {
        self.fulfilment.clone()
    }

    /// The fulfilment worker's health signal (`/health` reads it).
    pub fn fulfilment_health(&self) -> Arc<Health> {
        self.fulfilment_health.clone()
    }
}

impl App {
    /// Gives up what this instance holds (at shutdown, after its workers have
    /// stopped): fulfilment claims and webhook endpoint leases, so that
    /// another instance takes them over at once instead of after the lease.
    pub async fn release_leases(&self, instance: &str) {
        match self.store.release_fulfilment_claims(instance).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(lines = n, "released fulfilment claims"),
            Err(e) => {
                tracing::warn!(error = %e, "could not release fulfilment claims; their leases run out");
            }
        }
        if let Err(e) = self.store.release_endpoints(instance).await {
            tracing::warn!(error = %e, "could not release webhook leases; they run out");
        }
    }
}

/// The fulfilment worker of one instance.
pub struct Fulfilment {
    pub app: App,
    /// This instance's name in claims.
    pub instance: String,
    pub lease: Duration,
    pub retry: Retry,
}

#[async_trait::async_trait]
impl Job for Fulfilment {
    async fn pass(&self) -> anyhow::Result<Pass> {
        let n = self
            .app
            .fulfil_pending(&self.instance, self.lease, self.retry)
            .await?;
        Ok(if n > 0 { Pass::More } else { Pass::Idle })
    }
}
