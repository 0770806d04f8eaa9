//! The checks behind `/health`.

use super::App;
use crate::revocation::SetState;

/// One component and whether it is healthy (serialized as `/health` lists it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Check {
    pub name: &'static str,
    pub health: bool,
}

impl App {
    pub async fn health(&self) -> Vec<Check> {
        let revocation = self.revocations.state().await;
        if revocation == SetState::Incomplete {
            self.maintainer.wake();
        }
        vec![
            Check {
                name: "database",
                health: self.store.ping().await,
            },
            Check {
                name: "revocation_store",
                health: revocation == SetState::Complete,
            },
            Check {
                name: "storage",
                health: self.storage.healthy(),
            },
        ]
    }
}
