//! `Idempotency-Key` bookkeeping: a key is claimed before a request runs and
//! its answer stored after, so a retry replays it (or resumes a job whose work
//! was committed but not confirmed).

use super::{App, AppError};
use crate::domain::{IdempotencyKey, Tenant};
use crate::store::Store;
use crate::store::idempotency::KeyScope;
pub use crate::store::idempotency::{Answer, Begin};

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

    pub async fn finish(&self, answer: Answer<'_>) -> Result<(), AppError> {
        Ok(self.store.idempotency_finish(&self.scope, answer).await?)
    }

    /// Forgets the key after a server error, so a retry runs the request again.
    pub async fn abandon(&self) -> Result<(), AppError> {
        Ok(self.store.idempotency_abandon(&self.scope).await?)
    }
}
