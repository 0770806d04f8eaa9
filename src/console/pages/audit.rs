//! The audit log: every operator change, newest first.

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::console::view::{Chrome, html, when};
use crate::console::{ConsoleError, ConsoleQuery, ConsoleSession};
use crate::http::params::{decode_cursor, encode_cursor};
use crate::http::state::AppState;

pub struct AuditRow {
    pub at: String,
    pub admin: String,
    pub action: String,
    pub target: String,
    pub details: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    chrome: Chrome,
    entries: Vec<AuditRow>,
    next_href: Option<String>,
}

#[derive(Deserialize)]
pub struct AuditQuery {
    cursor: Option<String>,
}

const PAGE: u64 = 50;

pub async fn list(
    session: ConsoleSession,
    state: web::Data<AppState>,
    ConsoleQuery(q): ConsoleQuery<AuditQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let before = q
        .cursor
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(|c| decode_cursor::<1>(c).map(|[id]| id))
        .transpose()?;
    let mut entries = state.app.audit_log(before, PAGE + 1).await?;
    let more = entries.len() as u64 > PAGE;
    entries.truncate(PAGE as usize);
    let next_href = more
        .then(|| {
            entries
                .last()
                .map(|e| format!("/admin/audit?cursor={}", encode_cursor(&[e.id])))
        })
        .flatten();
    html(&AuditPage {
        chrome: Chrome::new(&session, "audit"),
        entries: entries
            .into_iter()
            .map(|e| AuditRow {
                at: when(e.at_ms),
                admin: e.actor.who(),
                action: e.action,
                target: e.target,
                details: e.details,
            })
            .collect(),
        next_href,
    })
}
