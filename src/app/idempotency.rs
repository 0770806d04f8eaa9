//! `Idempotency-Key`: the one runner of requests that may be retried
//! ([`App::once`]). A key is claimed before a request runs and its answer
//! stored after, so a retry replays it (or resumes a job whose work was
//! committed but not confirmed).

use std::time::Duration;

use super::{App, AppError};
use crate::domain::secrets::sha256_hex;
use crate::domain::{IdempotencyKey, Tenant};
use crate::store::Store;
use crate::store::idempotency::{Answer, Begin, KeyScope, STALE_IN_PROGRESS_MS};

/// Whether a request is a cancel: a cancel runs ahead of the access history
/// from its claim on the key to its stored answer (`Store::cancel_running`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Work {
    Register,
    Cancel,
}

/// A request the runner is to run at most once per (tenant, key).
pub struct Once<'a> {
    pub tenant: Tenant,
    /// Without a key the request simply runs.
    pub key: Option<&'a IdempotencyKey>,
    /// What makes two requests "the same request" (method, path, query, body).
    pub material: &'a [u8],
    pub work: Work,
}

/// Which run of a request this is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempt {
    First,
    /// A retry of a request whose work was committed but whose answer was
    /// resumable (`revocation_unavailable`): finish the job, do not redo it.
    /// The body answered then comes with it.
    Resume(String),
}

/// A rendered answer: what is stored for the key and replayed byte for byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    /// The work is done but not all confirmed: a retry with the key resumes it.
    pub resumable: bool,
}

/// What the runner answers.
#[derive(Debug, PartialEq, Eq)]
pub enum Ran {
    /// This run's answer (stored for the key, unless it was a server error
    /// that a retry should run again).
    Fresh(Reply),
    /// The answer stored for an earlier run of the same request.
    Replayed { status: u16, body: String },
}

impl App {
    /// Runs `run` at most once per (tenant, key): claims the key, decides
    /// whether this is a first run, a replay or the resumption of committed
    /// work, stores the answer (or releases the key after a server error
    /// that is not resumable). A cancel holds the "cancels first" turn for
    /// the whole of it, and only here.
    pub async fn once<F, Fut>(&self, once: Once<'_>, run: F) -> Result<Ran, AppError>
    where
        F: FnOnce(Attempt) -> Fut,
        Fut: Future<Output = Reply>,
    {
        let _turn = (once.work == Work::Cancel).then(|| self.cancel_turn());
        let Some(key) = once.key else {
            return Ok(Ran::Fresh(run(Attempt::First).await));
        };
        let keyed = Keyed {
            store: &self.store,
            scope: KeyScope {
                tenant: once.tenant,
                key,
            },
        };
        let attempt = match keyed.begin(&sha256_hex(once.material)).await? {
            Begin::New => Attempt::First,
            Begin::Resume { body } => Attempt::Resume(body),
            Begin::Replay { status, body } => return Ok(Ran::Replayed { status, body }),
            Begin::Mismatch => return Err(AppError::IdempotencyKeyReused),
            Begin::InProgress => return Err(AppError::IdempotencyInProgress),
        };
        let first = attempt == Attempt::First;
        let reply = run(attempt).await;
        if reply.status >= 500 && !reply.resumable {
            // Not an answer to keep: let a retry run the request again.
            if first && let Err(e) = keyed.abandon().await {
                tracing::warn!(error = %e, "could not release an idempotency key");
            }
            return Ok(Ran::Fresh(reply));
        }
        keyed
            .finish(Answer {
                status: reply.status,
                body: &reply.body,
                resumable: reply.resumable,
            })
            .await?;
        Ok(Ran::Fresh(reply))
    }
}

impl App {
    /// The "cancels first" turn (`Store::cancel_running`): held by a cancel
    /// from its start to its answer, so the access history starts no
    /// transaction meanwhile. Taken here by [`App::once`] and by the operator
    /// cancel (which has no key), nowhere else.
    pub(super) fn cancel_turn(&self) -> crate::store::CancelRunning {
        self.store.cancel_running()
    }
}

/// One tenant's key.
struct Keyed<'a> {
    store: &'a Store,
    scope: KeyScope<'a>,
}

impl Keyed<'_> {
    /// Claims the key for a request with this fingerprint, or says what it holds.
    async fn begin(&self, fingerprint: &str) -> Result<Begin, AppError> {
        Ok(self
            .store
            .idempotency_begin(&self.scope, fingerprint)
            .await?)
    }

    /// Stores the answer. If the database cannot take it now, keeps trying in
    /// the background (`settle_later`) and returns the first error.
    async fn finish(&self, answer: Answer<'_>) -> Result<(), AppError> {
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
    async fn abandon(&self) -> Result<(), AppError> {
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
