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
use super::stamp::CopyError;
use super::webhooks::line_event;
use super::worker::{Health, Job, Pass, Wake};
use crate::domain::{EventType, Stamp, now_ms};
use crate::store::orders::{Claimed, Completion, Failure, LineCopy};

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
/// Lines of one pass worked on at once (each is mostly waiting on storage).
const CONCURRENT: usize = 8;

impl App {
    /// Claims and fulfils one batch; returns how many lines it handled.
    /// Lines are worked on [`CONCURRENT`] at a time (stamping is bounded
    /// further by `stamping.concurrency`). A transient failure (the file
    /// could not be read, the copy not stored) is retried with exponential
    /// backoff, up to `retry.max_attempts` claims, before FAILED.
    pub async fn fulfil_pending(
        &self,
        instance: &str,
        lease: Duration,
        retry: Retry,
    ) -> anyhow::Result<usize> {
        use futures_util::{StreamExt as _, TryStreamExt as _};
        let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(30_000);
        let claimed = self
            .store
            .claim_processing(instance, lease_ms, CLAIM_BATCH)
            .await?;
        let n = claimed.len();
        futures_util::stream::iter(claimed)
            .map(|c| self.fulfil_one(c, retry))
            .buffer_unordered(CONCURRENT)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(n)
    }

    /// Checks (or stamps) one claimed line and records the outcome.
    async fn fulfil_one(&self, c: Claimed, retry: Retry) -> anyhow::Result<()> {
        let transient = |problem: String| (c.attempt < retry.max_attempts).then_some(problem);
        let outcome = match self.store.get_asset(c.asset).await? {
            None => Err(Failure {
                reason: "asset_missing",
                message: format!("asset {} does not exist", c.asset),
            }),
            Some(asset) if asset.stamp == Stamp::Pdf => {
                let Some(line) = self.store.line_by_id(c.line).await? else {
                    return Ok(());
                };
                match self.make_copy(&line, &asset).await {
                    Ok(copy) => Ok(Completion {
                        copy: Some(LineCopy {
                            sha256: copy.sha256,
                            size_bytes: i64::try_from(copy.size_bytes).unwrap_or(i64::MAX),
                        }),
                        access_days: asset.access_days,
                    }),
                    Err(CopyError::Unstampable(why)) => Err(Failure {
                        reason: "stamping_failed",
                        message: format!("stamping failed: {why}"),
                    }),
                    Err(CopyError::Storage(e)) if e.is_transient() => {
                        match transient(e.to_string()) {
                            Some(problem) => return self.retry_later(&c, retry, &problem).await,
                            None => Err(Failure {
                                reason: "file_unavailable",
                                message: format!("{e} (after {} attempts)", c.attempt),
                            }),
                        }
                    }
                    Err(CopyError::Storage(e)) => Err(Failure {
                        reason: "file_unavailable",
                        message: e.to_string(),
                    }),
                    Err(CopyError::Store(e)) => match transient(e.clone()) {
                        Some(problem) => return self.retry_later(&c, retry, &problem).await,
                        None => Err(Failure {
                            reason: "stamping_failed",
                            message: format!(
                                "the stamped copy could not be stored: {e} (after {} attempts)",
                                c.attempt
                            ),
                        }),
                    },
                }
            }
            Some(asset) => {
                let size = u64::try_from(asset.size_bytes).unwrap_or(0);
                match self.storage.check_for_sale(&asset.sha256, size).await {
                    Ok(()) => Ok(Completion {
                        copy: None,
                        access_days: asset.access_days,
                    }),
                    Err(e) if e.is_transient() => match transient(e.to_string()) {
                        Some(problem) => return self.retry_later(&c, retry, &problem).await,
                        None => Err(Failure {
                            reason: "file_unavailable",
                            message: format!("{e} (after {} attempts)", c.attempt),
                        }),
                    },
                    Err(e) => Err(Failure {
                        reason: "file_unavailable",
                        message: e.to_string(),
                    }),
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
        Ok(())
    }

    /// Puts a claimed line back for a later try, with backoff.
    async fn retry_later(&self, c: &Claimed, retry: Retry, problem: &str) -> anyhow::Result<()> {
        let delay = retry.delay_ms(c.attempt);
        tracing::warn!(line_id = %c.line, attempt = c.attempt, retry_in_ms = delay, problem, "fulfilment failed; will retry");
        self.store
            .retry_fulfilment_at(c.line, now_ms() + delay)
            .await?;
        Ok(())
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
