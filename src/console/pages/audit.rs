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
    /// What was done, in words ("Canceled"), and its code (`cancel`).
    pub what: String,
    pub action: String,
    pub target: String,
    /// Where the target is in the console, when it has a page.
    pub target_href: Option<String>,
    /// The details as `key: value` pairs, in the order recorded.
    pub details: Vec<(String, String)>,
}

/// An audit action, for people.
fn what(action: &str) -> String {
    match action {
        "cancel" => "Canceled",
        "link_reissue" => "Issued a link",
        "vendor_create" => "Added a vendor",
        "vendor_suspend" => "Suspended a vendor",
        "vendor_activate" => "Reactivated a vendor",
        "token_create" => "Created an API token",
        "token_revoke" => "Revoked an API token",
        "admin_create" => "Added an operator",
        "admin_revoke" => "Revoked an operator",
        "admin_set_role" => "Changed a role",
        "asset_add" => "Added an asset",
        "asset_change" => "Changed an asset",
        "webhook_redeliver" => "Redelivered a webhook",
        other => other,
    }
    .to_owned()
}

/// The target in words and, where it has a console page, its address:
/// `order V E N [line L]`, `vendor V`, `asset N`, `token T`, `admin A`.
fn target(target: &str, details: &serde_json::Value) -> (String, Option<String>) {
    let parts: Vec<&str> = target.split(' ').collect();
    let detail = |k: &str| details.get(k).and_then(|v| v.as_str());
    match parts.as_slice() {
        ["order", vendor, env, number, rest @ ..] => {
            let line = match rest {
                ["line", l] => format!(" line {l}"),
                _ => String::new(),
            };
            (
                format!("order #{number}{line} ({env})"),
                Some(format!("/admin/orders/{vendor}/{env}/{number}")),
            )
        }
        ["vendor", id] => (
            detail("name").map_or_else(|| format!("vendor {id}"), |n| format!("vendor {n}")),
            Some(format!("/admin/vendors/{id}")),
        ),
        ["asset", id] => (format!("asset #{id}"), Some(format!("/admin/assets/{id}"))),
        ["token", id] => (
            detail("prefix").map_or_else(|| format!("token {id}"), |p| format!("token {p}…")),
            detail("vendor_id").map(|v| format!("/admin/vendors/{v}")),
        ),
        ["admin", id] => (
            detail("name").map_or_else(|| format!("operator {id}"), |n| format!("operator {n}")),
            None,
        ),
        _ => (target.to_owned(), None),
    }
}

/// `{"reason": "Refunded", "lines": [1, 2]}` → `reason: Refunded`, `lines: 1, 2`.
fn pairs(details: &serde_json::Value) -> Vec<(String, String)> {
    fn plain(v: &serde_json::Value) -> String {
        match v {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Array(a) => a.iter().map(plain).collect::<Vec<_>>().join(", "),
            serde_json::Value::Null => "—".to_owned(),
            other => other.to_string(),
        }
    }
    match details {
        serde_json::Value::Object(map) => map
            .iter()
            .map(|(k, v)| (k.replace('_', " "), plain(v)))
            .collect(),
        serde_json::Value::Null => Vec::new(),
        other => vec![("details".to_owned(), plain(other))],
    }
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
            .map(|e| {
                let details: serde_json::Value =
                    serde_json::from_str(&e.details).unwrap_or(serde_json::Value::Null);
                let (target, target_href) = target(&e.target, &details);
                AuditRow {
                    at: when(e.at_ms),
                    admin: e.actor.who(),
                    what: what(&e.action),
                    action: e.action,
                    target,
                    target_href,
                    details: pairs(&details),
                }
            })
            .collect(),
        next_href,
    })
}
