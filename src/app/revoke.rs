//! Putting revocations in force: the revocation guarantee, in one place.
//! Cancel (every surface: vendor, operator, batch) and the maintainer's outbox
//! drain both come here.

use super::App;
use crate::domain::{LineStatus, Revocation, now_ms};
use crate::revocation::RevocationError;
use crate::store::StoreError;
use crate::store::orders::OrderLine;

#[derive(Debug, thiserror::Error)]
pub enum PutInForceError {
    /// Not confirmed by the revocation store; the lines stay in the outbox.
    #[error(transparent)]
    Revocation(#[from] RevocationError),
    /// In force, but the outbox flags could not be cleared (they are pushed
    /// again later, harmlessly).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The revocations these lines need: canceled, with a window still open.
pub fn revocations_of<'a>(lines: impl IntoIterator<Item = &'a OrderLine>) -> Vec<Revocation> {
    let now = now_ms();
    lines
        .into_iter()
        .filter(|l| l.status == LineStatus::Canceled)
        .filter_map(|l| {
            l.revoke_until_ms.map(|until_ms| Revocation {
                line: l.line_id,
                until_ms,
            })
        })
        .filter(|r| r.until_ms > now)
        .collect()
}

impl App {
    /// Makes the revocation store refuse these lines on every instance, then
    /// clears their outbox flags. `Ok` only once the store confirmed them.
    pub(super) async fn put_in_force(&self, entries: &[Revocation]) -> Result<(), PutInForceError> {
        self.revocations.revoke(entries).await?;
        let lines: Vec<_> = entries.iter().map(|r| r.line).collect();
        self.store.clear_revocation_pending(&lines).await?;
        Ok(())
    }
}
