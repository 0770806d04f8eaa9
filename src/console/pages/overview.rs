//! The first page: the state of the gateway at a glance.

use actix_web::{HttpResponse, web};
use askama::Template;

use crate::console::view::{Chrome, html, see_other, status_class};
use crate::console::{ConsoleError, ConsoleSession};
use crate::domain::LineStatus;
use crate::http::state::AppState;
use crate::http::wire::OverviewItem;

pub struct Count {
    pub name: String,
    pub class: &'static str,
    pub count: i64,
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    chrome: Chrome,
    revocation_kind: &'static str,
    revocation_state: &'static str,
    revocation_ok: bool,
    outbox: u64,
    fulfilment_queue: u64,
    webhooks_failing: u64,
    statuses: Vec<Count>,
    accesses: Vec<Count>,
}

pub async fn to_slash() -> HttpResponse {
    see_other("/admin/")
}

pub async fn overview(
    session: ConsoleSession,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let o = OverviewItem::from(state.app.overview().await?);
    let statuses = LineStatus::ALL
        .into_iter()
        .map(|s| Count {
            name: s.to_string(),
            class: status_class(s),
            count: o.orders_by_status.get(&s).copied().unwrap_or(0),
        })
        .collect();
    let accesses = [
        "served",
        "revoked",
        "expired",
        "invalid",
        "unavailable",
        "other",
    ]
    .into_iter()
    .filter_map(|name| {
        let count = o.accesses_24h.get(name).copied()?;
        Some(Count {
            name: name.to_owned(),
            class: "",
            count,
        })
    })
    .collect();
    html(&OverviewPage {
        chrome: Chrome::new(&session, "overview"),
        revocation_kind: o.revocation_store.kind,
        revocation_state: o.revocation_store.state,
        revocation_ok: o.revocation_store.state == "complete",
        outbox: o.revocation_outbox,
        fulfilment_queue: o.fulfilment_queue,
        webhooks_failing: o.webhooks_failing,
        statuses,
        accesses,
    })
}
