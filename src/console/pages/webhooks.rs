//! A vendor's webhook endpoints and their deliveries; redeliver.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use crate::console::session::{CsrfForm, Submitted};
use crate::console::view::{Chrome, html, see_other, when};
use crate::console::{ConsoleError, ConsoleSession};
use crate::domain::{DeliveryState, WebhookId, WebhookStatus, now_ms};
use crate::http::path::{DeliveryNumber, segment};
use crate::http::state::AppState;
use crate::store::webhooks::Webhook;

/// Deliveries one page shows.
const PAGE: u64 = 50;

pub fn webhook_status_class(status: WebhookStatus) -> &'static str {
    match status {
        WebhookStatus::Enabled => "badge green",
        WebhookStatus::Disabled => "badge red",
        WebhookStatus::Deleted => "badge grey",
    }
}

fn delivery_state_class(state: DeliveryState) -> &'static str {
    match state {
        DeliveryState::Pending => "badge amber",
        DeliveryState::Delivered => "badge green",
        DeliveryState::Failed => "badge red",
    }
}

/// An endpoint as the vendor page lists it.
pub struct WebhookRow {
    pub id: String,
    pub url: String,
    pub environment: &'static str,
    pub events: String,
    pub status: &'static str,
    pub status_class: &'static str,
    pub failing_since: Option<String>,
    pub disabled_reason: Option<String>,
}

impl From<Webhook> for WebhookRow {
    fn from(w: Webhook) -> Self {
        let events = w.events.types();
        Self {
            id: w.webhook_id.to_string(),
            url: w.url,
            environment: w.environment.as_str(),
            events: if events.is_empty() {
                "every event".to_owned()
            } else {
                events
                    .iter()
                    .map(|e| e.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            status: w.status.as_str(),
            status_class: webhook_status_class(w.status),
            failing_since: w.failing_since_ms.map(when),
            disabled_reason: w.disabled_reason,
        }
    }
}

pub struct DeliveryRow {
    pub id: i64,
    pub event_id: String,
    pub kind: &'static str,
    pub state: &'static str,
    pub state_class: &'static str,
    pub attempts: i32,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub next_attempt: Option<String>,
    pub created: String,
}

#[derive(Template)]
#[template(path = "webhook.html")]
struct WebhookPage {
    chrome: Chrome,
    webhook: WebhookRow,
    vendor_id: String,
    vendor_name: String,
    description: Option<String>,
    notice: Option<String>,
    deliveries: Vec<DeliveryRow>,
    next_href: Option<String>,
}

fn query_value(req: &HttpRequest, key: &str) -> Option<String> {
    form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

pub async fn detail(
    session: ConsoleSession,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    let id = segment::<WebhookId>(&req)?;
    let webhook = state.app.webhook(id, None).await?;
    let vendor = state.app.vendor(webhook.vendor_id).await?;
    let before = query_value(&req, "before").and_then(|b| b.parse::<i64>().ok());
    let mut rows = state
        .app
        .webhook_deliveries(id, None, before, PAGE + 1)
        .await?;
    let more = rows.len() as u64 > PAGE;
    rows.truncate(usize::try_from(PAGE).unwrap_or(usize::MAX));
    let next_href = more
        .then(|| {
            rows.last()
                .map(|r| format!("/admin/webhooks/{id}?before={}", r.delivery.id))
        })
        .flatten();
    let deliveries = rows
        .into_iter()
        .map(|row| {
            let d = row.delivery;
            let pending = d.state == DeliveryState::Pending;
            let next_attempt = match (&row.waiting_for, pending) {
                (Some(head), _) => Some(format!("waiting behind {head}")),
                (None, true) if d.next_attempt_at_ms <= now_ms() => Some("sending now".to_owned()),
                (None, true) => Some(format!("next try {}", when(d.next_attempt_at_ms))),
                (None, false) => None,
            };
            DeliveryRow {
                id: d.id,
                event_id: d.event_id,
                kind: row.kind.as_str(),
                state: d.state.as_str(),
                state_class: delivery_state_class(d.state),
                attempts: d.attempts,
                last_status: d.last_status,
                last_error: d.last_error,
                next_attempt,
                created: when(d.created_at_ms),
            }
        })
        .collect();
    let notice = query_value(&req, "redelivered")
        .map(|d| format!("Delivery {d} is queued again; it is sent within seconds."));
    html(&WebhookPage {
        chrome: Chrome::new(&session, "vendors"),
        vendor_id: vendor.vendor_id.to_string(),
        vendor_name: vendor.name,
        description: webhook.description.clone(),
        webhook: webhook.into(),
        notice,
        deliveries,
        next_href,
    })
}

pub async fn redeliver(
    Submitted { session, .. }: Submitted<CsrfForm>,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    let DeliveryNumber(id) = segment(&req)?;
    let delivery = state.app.redeliver(&session.operator, id).await?;
    Ok(see_other(&format!(
        "/admin/webhooks/{}?redelivered={}",
        delivery.webhook_id, delivery.id
    )))
}
