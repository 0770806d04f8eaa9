//! Housekeeping, hourly: idempotency keys past their retention, expired
//! console sessions, and access events older than `history.retention_days`.

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
        Ok(Purged {
            idempotency_keys,
            sessions,
            access_events,
        })
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
                "housekeeping purged old rows"
            );
        }
        Ok(worker::Pass::Idle)
    }
}
