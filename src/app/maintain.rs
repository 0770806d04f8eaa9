//! Keeps the revocation set complete and the outbox drained, on every instance:
//!
//! 1. puts in force the revocations the database holds as pending (a cancel
//!    that could not reach the store answered 503 and left them there);
//! 2. rebuilds the set from the database when it is not known to be complete
//!    (first start, Redis restarted or flushed), one instance at a time;
//! 3. sweeps entries no unexpired link can need.

use super::App;
use super::worker::{Job, Pass};
use crate::domain::now_ms;
use crate::revocation::{RevocationError, SetState};

impl App {
    /// One pass; returns the set's state after it.
    ///
    /// Access resumes on this instance (suspicion cleared) only when, after the
    /// last failure seen, the outbox was pushed and the set was found complete.
    pub async fn maintain_revocations(&self) -> SetState {
        // First: which server, and is it a primary (a move counts as a failure).
        self.revocations.refresh().await;
        let seen = self.revocations.suspicion();
        let mut outbox_read = self.push_pending().await;
        if self.revocations.needs_repush() {
            outbox_read &= self.repush().await;
        }
        let mut state = self.revocations.state().await;
        if state == SetState::Incomplete {
            self.rebuild().await;
            state = self.revocations.state().await;
        }
        // A push that failed in the store counted that failure (the store's
        // counters are then ahead of `seen`, so clearing lifts nothing it
        // covers); one that failed to *read* the outbox says nothing of what
        // the store may be missing.
        if outbox_read {
            self.revocations.clear_suspicion(&seen, state);
        }
        self.revocations.sweep(now_ms()).await;
        state
    }

    /// Asks the maintainer for a pass now.
    pub fn wake_maintainer(&self) {
        self.maintainer.wake();
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
            Ok(false) => self.maintainer.wake(),
            Err(e) => tracing::debug!(error = %e, "rebuilding the revocation set failed"),
        }
    }

    /// After the primary moved: writes every active revocation to the new
    /// one, marked complete or not (see `RevocationStore::needs_repush`).
    /// `false` unless it was read and written.
    async fn repush(&self) -> bool {
        let all = match self.store.active_revocations(now_ms()).await {
            Ok(all) => all,
            Err(e) => {
                tracing::warn!(error = %e, "reading revocations from the database failed; will retry");
                return false;
            }
        };
        match self.revocations.revoke(&all).await {
            // On the primary this instance reads: that is what a re-push is
            // for. (Cancels wait for the replicas themselves.)
            Ok(()) | Err(RevocationError::NotReplicated { .. }) => {}
            Err(e) => {
                // Asked again next pass; the failure keeps access closed meanwhile.
                tracing::debug!(error = %e, "writing revocations to the new primary failed; will retry");
                return false;
            }
        }
        // Only the maintainer moves the store (in `refresh`), so no move
        // happened since this pass began.
        self.revocations.repushed();
        tracing::info!(
            count = all.len(),
            "every active revocation written again to the new Redis primary"
        );
        true
    }

    /// Pushes the outbox; `false` only when the database could not be read.
    async fn push_pending(&self) -> bool {
        let pending = match self.store.pending_revocations().await {
            Ok(pending) => pending,
            Err(e) => {
                tracing::debug!(error = %e, "reading pending revocations failed; will retry");
                return false;
            }
        };
        if pending.is_empty() {
            return true;
        }
        match self.put_in_force(&pending).await {
            Ok(()) => tracing::info!(
                count = pending.len(),
                "pending revocations pushed to the store"
            ),
            Err(e) => tracing::debug!(error = %e, "pushing pending revocations failed; will retry"),
        }
        true
    }
}

/// The maintainer as a worker. A pass never fails as such: an unreachable
/// store is a state it reports (and `/health` shows), not a worker fault.
pub struct Maintainer(pub App);

#[async_trait::async_trait]
impl Job for Maintainer {
    async fn pass(&self) -> anyhow::Result<Pass> {
        self.0.maintain_revocations().await;
        Ok(Pass::Idle)
    }
}

impl App {
    /// The wake-up handle of the maintainer worker.
    pub fn maintainer_wake(&self) -> super::worker::Wake {
        self.maintainer.clone()
    }
}
