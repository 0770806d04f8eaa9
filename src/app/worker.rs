//! The one shape of every background worker (fulfilment, revocation
//! maintainer, housekeeping): a bounded pass, run again at once while it
//! reports more work, otherwise after a polling interval or when woken; a
//! health signal that counts consecutive failed passes; a clean stop.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Wakes a worker for a pass now (e.g. register wakes fulfilment).
#[derive(Clone, Debug, Default)]
pub struct Wake(Arc<Notify>);

impl Wake {
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

/// A pass that failed this many times in a row makes the worker unhealthy.
pub const FAILING_AFTER: u32 = 3;

/// Consecutive failed passes of one worker.
#[derive(Debug, Default)]
pub struct Health {
    failures: AtomicU32,
}

impl Health {
    /// False once [`FAILING_AFTER`] passes in a row have failed, until one succeeds.
    pub fn healthy(&self) -> bool {
        self.failures.load(Ordering::Relaxed) < FAILING_AFTER
    }

    fn succeeded(&self, name: &str) {
        if self.failures.swap(0, Ordering::Relaxed) >= FAILING_AFTER {
            tracing::info!(worker = name, "worker recovered");
        }
    }

    fn failed(&self, name: &str, error: &anyhow::Error) {
        let n = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        // Warn once, then say loudly that it keeps failing, then every 60th time.
        if n < FAILING_AFTER {
            tracing::warn!(worker = name, failures = n, error = %format!("{error:#}"), "worker pass failed; retrying");
        } else if n == FAILING_AFTER || n.is_multiple_of(60) {
            tracing::error!(worker = name, failures = n, error = %format!("{error:#}"), "worker fails every pass");
        }
    }
}

/// What one pass found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pass {
    /// Nothing more waiting: sleep until the next poll or a wake-up.
    Idle,
    /// A full batch: more may be waiting, run again at once.
    More,
}

#[async_trait::async_trait]
pub trait Job: Send + Sync + 'static {
    /// One bounded pass.
    async fn pass(&self) -> anyhow::Result<Pass>;
}

/// When a worker runs.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    /// Polling fallback.
    pub every: Duration,
    /// However often it is woken, at least this long between passes.
    pub min_gap: Duration,
}

/// Runs `job` on `schedule` until `stop` is cancelled; the pass under way finishes first.
pub fn spawn<J: Job>(
    name: &'static str,
    job: J,
    schedule: Schedule,
    wake: Wake,
    health: Arc<Health>,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let more = match job.pass().await {
                Ok(pass) => {
                    health.succeeded(name);
                    pass == Pass::More
                }
                Err(e) => {
                    health.failed(name, &e);
                    false
                }
            };
            if stop.is_cancelled() {
                break;
            }
            if more {
                continue;
            }
            tokio::time::sleep(schedule.min_gap).await;
            tokio::select! {
                () = tokio::time::sleep(schedule.every) => {}
                () = wake.0.notified() => {}
                () = stop.cancelled() => break,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    struct Flaky {
        calls: Arc<AtomicUsize>,
        fail_first: usize,
    }

    #[async_trait::async_trait]
    impl Job for Flaky {
        async fn pass(&self) -> anyhow::Result<Pass> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            anyhow::ensure!(n >= self.fail_first, "pass {n} fails");
            Ok(Pass::Idle)
        }
    }

    #[tokio::test]
    async fn a_worker_failing_every_pass_turns_unhealthy_and_recovers_after_one_success() {
        let health = Arc::new(Health::default());
        let calls = Arc::new(AtomicUsize::new(0));
        let stop = CancellationToken::new();
        let wake = Wake::default();
        let job = Flaky {
            calls: calls.clone(),
            fail_first: 5,
        };
        let schedule = Schedule {
            every: Duration::from_secs(60),
            min_gap: Duration::ZERO,
        };
        let task = spawn(
            "flaky",
            job,
            schedule,
            wake.clone(),
            health.clone(),
            stop.clone(),
        );
        let wait_for = |n: usize| {
            let calls = calls.clone();
            let wake = wake.clone();
            async move {
                while calls.load(Ordering::SeqCst) < n {
                    wake.wake();
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        };
        wait_for(usize::try_from(FAILING_AFTER).unwrap_or(3)).await;
        assert!(!health.healthy(), "after {FAILING_AFTER} failed passes");
        wait_for(6).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(health.healthy(), "one successful pass clears it");
        stop.cancel();
        assert!(
            tokio::time::timeout(Duration::from_secs(1), task)
                .await
                .is_ok()
        );
    }
}
