//! `Idempotency-Key` bookkeeping: a key is claimed before a request runs and
//! its answer stored after, so a retry replays it (or resumes a job whose work
//! was committed but not confirmed).

use std::time::Duration;

use super::{App, AppError};
use crate::domain::{IdempotencyKey, Tenant};
use crate::store::Store;
pub use crate::store::idempotency::{Answer, Begin};
use crate::store::idempotency::{KeyScope, STALE_IN_PROGRESS_MS};

/// One tenant's key.
pub struct Keyed<'a> {
    store: &'a Store,
    scope: KeyScope<'a>,
}

impl App {
    pub fn idempotency<'a>(&'a self, tenant: Tenant, key: &'a IdempotencyKey) -> Keyed<'a> {
        Keyed {
            store: &self.store,
            scope: KeyScope { tenant, key },
        }
    }
}

impl Keyed<'_> {
    /// Claims the key for a request with this fingerprint, or says what it holds.
    pub async fn begin(&self, fingerprint: &str) -> Result<Begin, AppError> {
        Ok(self
            .store
            .idempotency_begin(&self.scope, fingerprint)
            .await?)
    }

    /// Stores the answer. If the database cannot take it now, keeps trying in
    /// the background (`settle_later`) and returns the first error.
    pub async fn finish(&self, answer: Answer<'_>) -> Result<(), AppError> {
        let result = self.store.idempotency_finish(&self.scope, &answer).await;
        if result.is_err() {
            self.settle_later(Settle::Finish {
                status: answer.status,
                body: answer.body.to_owned(),
                resumable: answer.resumable,
            });
        }
        Ok(result?)
    }

    /// Forgets the key after a server error, so a retry runs the request again.
    /// If the database cannot be reached now (the usual cause of that error),
    /// keeps trying in the background and returns the first error.
    pub async fn abandon(&self) -> Result<(), AppError> {
        let result = self.store.idempotency_abandon(&self.scope).await;
        if result.is_err() {
            self.settle_later(Settle::Abandon);
        }
        Ok(result?)
    }

    fn settle_later(&self, settle: Settle) {
        tokio::spawn(settle_in_background(
            self.store.clone(),
            self.scope.tenant,
            self.scope.key.clone(),
            settle,
        ));
    }
}

/// What a request that could not reach the database at its end still owes its key.
#[derive(Clone, Debug)]
pub enum Settle {
    /// Its answer, for retries to replay (or resume).
    Finish {
        status: u16,
        body: String,
        resumable: bool,
    },
    /// To release it (it failed with a server error): a retry runs again.
    Abandon,
}

impl Settle {
    fn kind(&self) -> &'static str {
        match self {
            Self::Finish { .. } => "finish",
            Self::Abandon => "abandon",
        }
    }
}

/// How long a key is settled in the background at most: less than a claim
/// takes to become stale, so it never races a retry that took the key over.
pub const SETTLE_FOR: Duration = Duration::from_millis(STALE_IN_PROGRESS_MS as u64 / 2);
const SETTLE_EVERY: Duration = Duration::from_millis(250);

/// Settles a key whose request ended while the database was unreachable:
/// tries again every 250 ms for up to `SETTLE_FOR`. Without it, a retry
/// would get 409 `idempotency_request_in_progress` until the claim went
/// stale (60 s) — although nothing runs — and a committed request would then
/// run a second time instead of having its answer replayed. Returns whether
/// it succeeded. A stored final answer is never touched (the store's rules).
pub async fn settle_in_background(
    store: Store,
    tenant: Tenant,
    key: IdempotencyKey,
    settle: Settle,
) -> bool {
    let scope = KeyScope { tenant, key: &key };
    let deadline = tokio::time::Instant::now() + SETTLE_FOR;
    loop {
        tokio::time::sleep(SETTLE_EVERY).await;
        let done = match &settle {
            Settle::Finish {
                status,
                body,
                resumable,
            } => {
                let answer = Answer {
                    status: *status,
                    body,
                    resumable: *resumable,
                };
                store.idempotency_finish(&scope, &answer).await
            }
            Settle::Abandon => store.idempotency_abandon(&scope).await,
        };
        match done {
            Ok(()) => {
                tracing::info!(
                    key = scope.key.as_str(),
                    settle = settle.kind(),
                    "idempotency key settled after the database came back"
                );
                return true;
            }
            Err(e) if tokio::time::Instant::now() >= deadline => {
                tracing::warn!(
                    error = %e,
                    key = scope.key.as_str(),
                    settle = settle.kind(),
                    "gave up settling an idempotency key; a retry takes it over after 60 s"
                );
                return false;
            }
            Err(_) => {}
        }
    }
}
