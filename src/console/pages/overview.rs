//! The first page: the state of the gateway at a glance.

use actix_web::{HttpResponse, web};
use askama::Template;

use crate::app::search::Activity;
use crate::console::view::{Chrome, html, see_other, status_class, when};
use crate::console::{ConsoleError, ConsoleSession};
use crate::domain::{LineStatus, WebhookStatus};
use crate::http::state::AppState;
use crate::http::wire::OverviewItem;

/// One bar (or bar segment) of a server-drawn SVG chart.
pub struct Bar {
    pub x: i64,
    pub y: i64,
    pub width: i64,
    pub height: i64,
    pub class: &'static str,
    pub title: String,
}

/// A label under a chart's x axis.
pub struct Tick {
    pub x: i64,
    pub text: String,
}

const CHART_HEIGHT: i64 = 120;

/// Scales `n` of `max` to the chart's height (at least 1 px when not 0).
fn scaled(n: i64, max: i64) -> i64 {
    if n <= 0 || max <= 0 {
        0
    } else {
        (n * CHART_HEIGHT / max).max(1)
    }
}

/// 168 hourly stacks of 5 px: served (bottom), expired, refused.
fn access_bars(activity: &Activity) -> (Vec<Bar>, Vec<Tick>, i64) {
    let max = activity
        .hours
        .iter()
        .map(|h| h.served + h.expired + h.refused)
        .max()
        .unwrap_or(0);
    let mut bars = Vec::new();
    let mut ticks = Vec::new();
    for (i, h) in (0i64..).zip(&activity.hours) {
        let x = i * 5;
        let mut top = CHART_HEIGHT;
        let when = chrono::DateTime::from_timestamp_millis(h.hour_ms)
            .map(|t| t.format("%d %b %H:00").to_string())
            .unwrap_or_default();
        for (n, class, what) in [
            (h.served, "served", "served"),
            (h.expired, "expired", "expired"),
            (h.refused, "refused", "refused (revoked)"),
        ] {
            let height = scaled(n, max);
            if height == 0 {
                continue;
            }
            top -= height;
            bars.push(Bar {
                x,
                y: top,
                width: 4,
                height,
                class,
                title: format!("{when} UTC: {n} {what}"),
            });
        }
        if h.hour_ms.rem_euclid(24 * 3_600_000) == 0 {
            ticks.push(Tick {
                x,
                text: chrono::DateTime::from_timestamp_millis(h.hour_ms)
                    .map(|t| t.format("%a %d").to_string())
                    .unwrap_or_default(),
            });
        }
    }
    (bars, ticks, max)
}

/// 7 daily bars of cancels, 120 px apart.
fn cancel_bars(activity: &Activity) -> (Vec<Bar>, Vec<Tick>) {
    let max = activity.cancels.iter().map(|c| c.1).max().unwrap_or(0);
    let mut bars = Vec::new();
    let mut ticks = Vec::new();
    for (i, (day_ms, n)) in (0i64..).zip(&activity.cancels) {
        let day = chrono::DateTime::from_timestamp_millis(*day_ms)
            .map(|t| t.format("%a %d").to_string())
            .unwrap_or_default();
        let height = scaled(*n, max);
        if height > 0 {
            bars.push(Bar {
                x: i * 120 + 20,
                y: CHART_HEIGHT - height,
                width: 80,
                height,
                class: "canceled",
                title: format!("{day}: {n} line(s) canceled"),
            });
        }
        ticks.push(Tick {
            x: i * 120 + 20,
            text: format!("{day} · {n}"),
        });
    }
    (bars, ticks)
}

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
    troubled: Vec<TroubledRow>,
    /// Of `troubled`, those still retried (the rest are disabled).
    troubled_retrying: usize,
    statuses: Vec<Count>,
    accesses: Vec<Count>,
    access_bars: Vec<Bar>,
    access_ticks: Vec<Tick>,
    access_max: i64,
    cancel_bars: Vec<Bar>,
    cancel_ticks: Vec<Tick>,
}

/// A webhook endpoint that needs someone, as the overview lists it.
pub struct TroubledRow {
    pub href: String,
    pub vendor_href: String,
    pub vendor: String,
    pub environment: &'static str,
    pub url: String,
    pub state: &'static str,
    pub state_class: &'static str,
    pub since: String,
    pub why: String,
}

pub async fn to_slash() -> HttpResponse {
    see_other("/admin/")
}

pub async fn overview(
    session: ConsoleSession,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let o = OverviewItem::from(state.app.overview().await?);
    let activity = state.app.activity().await?;
    let (access_bars, access_ticks, access_max) = self::access_bars(&activity);
    let (cancel_bars, cancel_ticks) = self::cancel_bars(&activity);
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
        troubled_retrying: o
            .webhooks_troubled
            .iter()
            .filter(|w| w.status != WebhookStatus::Disabled)
            .count(),
        troubled: o
            .webhooks_troubled
            .iter()
            .map(|w| {
                let disabled = w.status == WebhookStatus::Disabled;
                TroubledRow {
                    href: format!("/admin/webhooks/{}", w.webhook_id),
                    vendor_href: format!("/admin/vendors/{}", w.vendor_id),
                    vendor: w.vendor_name.clone(),
                    environment: w.environment.as_str(),
                    url: w.url.clone(),
                    state: if disabled { "disabled" } else { "failing" },
                    state_class: if disabled { "badge red" } else { "badge amber" },
                    since: w.failing_since.as_deref().map_or_else(String::new, |t| {
                        chrono::DateTime::parse_from_rfc3339(t)
                            .map_or_else(|_| t.to_owned(), |t| when(t.timestamp_millis()))
                    }),
                    why: w
                        .disabled_reason
                        .clone()
                        .unwrap_or_else(|| "deliveries failing; retried with back-off".to_owned()),
                }
            })
            .collect(),
        statuses,
        accesses,
        access_bars,
        access_ticks,
        access_max,
        cancel_bars,
        cancel_ticks,
    })
}
