use actix_web::{HttpResponse, web};
use serde::Serialize;

use crate::revocation::SetState;
use crate::state::AppState;

#[derive(Serialize)]
struct Check {
    name: &'static str,
    health: bool,
}

/// `GET /health`: public; 503 with the same list when any check fails.
#[tracing::instrument(skip_all)]
pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    let revocation = state.revocations.state().await;
    if revocation == SetState::Incomplete {
        state.maintainer.wake();
    }
    let checks = [
        Check {
            name: "database",
            health: state.store.ping().await,
        },
        Check {
            name: "revocation_store",
            health: revocation == SetState::Complete,
        },
        Check {
            name: "storage",
            health: state.storage.healthy(),
        },
    ];
    let mut res = if checks.iter().all(|c| c.health) {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    res.insert_header(("Cache-Control", "no-store"))
        .json(checks)
}
