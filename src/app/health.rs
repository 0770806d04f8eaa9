//! The checks behind `/health`, each bounded so the answer comes in time for
//! a health checker's own timeout.

use std::time::Duration;

use super::App;
use crate::revocation::SetState;

/// A check that has not answered by then counts as failed.
const CHECK_TIMEOUT: Duration = Duration::from_millis(1000);

/// One component and whether it is healthy (serialized as `/health` lists it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Check {
    pub name: &'static str,
    pub health: bool,
}

impl App {
    pub async fn health(&self) -> Vec<Check> {
        let (database, revocation, storage) = tokio::join!(
            tokio::time::timeout(CHECK_TIMEOUT, self.store.ping()),
            tokio::time::timeout(CHECK_TIMEOUT, self.revocations.state()),
            tokio::time::timeout(CHECK_TIMEOUT, self.storage.healthy()),
        );
        let revocation = revocation.unwrap_or(SetState::Unreachable);
        if revocation == SetState::Incomplete {
            self.maintainer.wake();
        }
        let fulfilment = self.fulfilment_health.healthy();
        if !fulfilment {
            // Its last passes failed (e.g. the database was down): try again now
            // rather than a polling interval later, so recovery shows at once.
            self.fulfilment.wake();
        }
        vec![
            Check {
                name: "database",
                health: database.unwrap_or(false),
            },
            Check {
                name: "revocation_store",
                health: revocation == SetState::Complete,
            },
            Check {
                name: "storage",
                health: storage.unwrap_or(false),
            },
            Check {
                name: "fulfilment",
                health: fulfilment,
            },
        ]
    }
}
