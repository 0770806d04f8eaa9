//! Housekeeping, hourly: idempotency keys past their retention, expired
//! console sessions, access events older than `history.retention_days`, and
//! the stamped copies of canceled lines once no link of theirs can work.

use super::{App, AppError, worker};
use crate::domain::now_ms;

/// Access events deleted per statement (a purge is a loop of these).
const PURGE_CHUNK: u64 = 10_000;

/// What one pass removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Purged {
    pub idempotency_keys: u64,
    pub sessions: u64,
    pub access_events: u64,
    pub copies: u64,
}

impl App {
    /// Removes what has outlived its retention (`retention_days` 0: access
    /// events are kept forever).
    pub async fn housekeep(&self, retention_days: u32) -> Result<Purged, AppError> {
        let idempotency_keys = self.store.idempotency_purge().await?;
        let sessions = self.store.purge_sessions().await?;
        let mut access_events = 0;
        if retention_days > 0 {
            let cutoff = now_ms() - i64::from(retention_days) * 24 * 3_600_000;
            loop {
                let n = self.store.purge_access_events(cutoff, PURGE_CHUNK).await?;
                access_events += n;
                if n < PURGE_CHUNK {
                    break;
                }
            }
        }
        let copies = self.remove_dead_copies().await?;
        Ok(Purged {
            idempotency_keys,
            sessions,
            access_events,
            copies,
        })
    }

    /// Removes the stamped copies of canceled lines past their revocation
    /// window (DESIGN: "Stamped copies"). The line is marked first, so a
    /// copy is never in use once its file is gone (and unmarked again if the
    /// store refused the removal); a file another line or an asset still
    /// names is kept.
    async fn remove_dead_copies(&self) -> Result<u64, AppError> {
        let mut removed = 0;
        loop {
            let batch = self
                .store
                .copies_to_remove(now_ms(), self.policy.revocation_window_ms, PURGE_CHUNK)
                .await?;
            let n = batch.len() as u64;
            let before = removed;
            for (line, sha256) in batch {
                self.store.set_copy_removed(line, Some(now_ms())).await?;
                if !self.store.sha256_in_use(&sha256).await?
                    && let Err(e) = self.storage.remove(&sha256).await
                {
                    // Unmarked: the next pass tries again.
                    tracing::warn!(line_id = %line, error = %format!("{e:#}"), "a stamped copy could not be removed; will retry");
                    self.store.set_copy_removed(line, None).await?;
                    continue;
                }
                removed += 1;
            }
            // A full batch the store refused entirely waits for the next pass.
            if n < PURGE_CHUNK || removed == before {
                break;
            }
        }
        Ok(removed)
    }
}

/// The housekeeping worker of `serve`.
pub struct Housekeeping {
    pub app: App,
    pub retention_days: u32,
}

#[async_trait::async_trait]
impl worker::Job for Housekeeping {
    async fn pass(&self) -> anyhow::Result<worker::Pass> {
        let purged = self.app.housekeep(self.retention_days).await?;
        if purged != Purged::default() {
            tracing::info!(
                idempotency_keys = purged.idempotency_keys,
                sessions = purged.sessions,
                access_events = purged.access_events,
                stamped_copies = purged.copies,
                "housekeeping purged old rows"
            );
        }
        Ok(worker::Pass::Idle)
    }
}
