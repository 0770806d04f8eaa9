//! Keeps the revocation set complete and the outbox drained, on every instance:
//!
//! 1. pushes revocations the database holds as pending (a cancel that could not
//!    reach the store answered 503 and left them there);
//! 2. rebuilds the set from the database when it is not known to be complete
//!    (first start, Redis restarted or flushed), one instance at a time;
//! 3. sweeps entries no unexpired link can need.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use super::{SetState, SharedRevocations};
use crate::domain::now_ms;
use crate::store::Store;

#[derive(Clone)]
pub struct Maintainer {
    store: Store,
    revocations: SharedRevocations,
    wake: Arc<Notify>,
}

impl Maintainer {
    pub fn new(store: Store, revocations: SharedRevocations) -> Self {
        Self {
            store,
            revocations,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Asks for a pass now (e.g. after a check found the set incomplete).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// One pass; returns the set's state after it.
    ///
    /// Access resumes on this instance (suspicion cleared) only when, after the
    /// last failure seen, the outbox was pushed and the set was found complete.
    pub async fn run_once(&self) -> SetState {
        let seen = self.revocations.suspicion();
        let pushed = self.push_pending().await;
        if let Err(e) = &pushed {
            tracing::debug!(error = %e, "pushing pending revocations failed; will retry");
        }
        let mut state = self.revocations.state().await;
        if state == SetState::Incomplete {
            self.rebuild().await;
            state = self.revocations.state().await;
        }
        if pushed.is_ok() && state == SetState::Complete {
            self.revocations.clear_suspicion(seen);
        }
        self.revocations.sweep(now_ms()).await;
        state
    }

    /// Claims the rebuild first, then reads the database: a revocation committed
    /// after the read reached the store after the claim, so a loss of memory that
    /// could erase it also voids the claim, and the set stays incomplete.
    async fn rebuild(&self) {
        let ticket = match self.revocations.begin_rebuild().await {
            Ok(Some(ticket)) => ticket,
            Ok(None) => {
                tracing::debug!("another instance is rebuilding the revocation set");
                return;
            }
            Err(e) => {
                tracing::debug!(error = %e, "claiming the revocation set rebuild failed");
                return;
            }
        };
        let all = match self.store.active_revocations(now_ms()).await {
            Ok(all) => all,
            Err(e) => {
                // The claim lapses by itself; another pass (here or elsewhere) retries.
                tracing::warn!(error = %e, "reading revocations from the database failed");
                return;
            }
        };
        match self.revocations.finish_rebuild(ticket, &all).await {
            Ok(true) => {}
            Ok(false) => self.wake(),
            Err(e) => tracing::debug!(error = %e, "rebuilding the revocation set failed"),
        }
    }

    async fn push_pending(&self) -> anyhow::Result<()> {
        let pending = self.store.pending_revocations().await?;
        if pending.is_empty() {
            return Ok(());
        }
        self.revocations.revoke(&pending).await?;
        let lines: Vec<_> = pending.iter().map(|r| r.line).collect();
        self.store.clear_revocation_pending(&lines).await?;
        tracing::info!(
            count = lines.len(),
            "pending revocations pushed to the store"
        );
        Ok(())
    }
}

/// Runs the maintainer every `every`, and whenever woken.
pub fn spawn_maintainer(m: Maintainer, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            m.run_once().await;
            // However often it is woken, at most one pass per 100 ms.
            tokio::time::sleep(Duration::from_millis(100)).await;
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = m.wake.notified() => {}
            }
        }
    })
}
