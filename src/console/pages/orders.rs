//! Orders: search, one order with its lines and timeline, cancel (with a
//! confirmation page and a reason), and a fresh link for support.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::app::evidence::reached_the_end;
use crate::app::search::{EventDelivery, OrderDetail};
use crate::console::session::{CarriesCsrf, Submitted};
use crate::console::view::{Chrome, html, see_other, status_class, when};
use crate::console::{ConsoleError, ConsoleQuery, ConsoleSession};
use crate::domain::{DeliveryState, LineId, LineStatus, OrderLineId, OrderRef, ms_to_rfc3339};
use crate::http::params::encode_cursor;
use crate::http::params::{CancelBody, DetailQuery, SearchQuery};
use crate::http::path::{order_of, segment};
use crate::http::state::AppState;
use crate::links::Action;
use crate::store::events::Event;
use crate::store::orders::OrderLine;

/// `/admin/orders/{vendor}/{environment}/{order}`.
fn order_href(order: OrderRef) -> String {
    format!(
        "/admin/orders/{}/{}/{}",
        order.tenant.vendor, order.tenant.environment, order.order
    )
}

pub struct Badge {
    pub name: String,
    pub class: &'static str,
    pub count: i64,
}

pub struct OrderRow {
    pub href: String,
    pub number: i64,
    pub environment: &'static str,
    pub customer: String,
    pub vendor: String,
    pub lines: i64,
    pub statuses: Vec<Badge>,
    pub created: String,
    pub updated: String,
}

pub struct VendorOption {
    pub id: String,
    pub name: String,
    pub selected: bool,
}

/// The filters as typed, echoed back into the form.
#[derive(Default)]
pub struct Filters {
    pub q: String,
    pub environment: String,
    pub status: String,
    pub created_from: String,
    pub created_to: String,
    pub reason_code: String,
}

impl Filters {
    pub fn is_status(&self, s: &str) -> bool {
        self.status == s
    }

    pub fn is_reason_code(&self, c: &str) -> bool {
        self.reason_code == c
    }
}

#[derive(Template)]
#[template(path = "orders.html")]
struct OrdersPage {
    chrome: Chrome,
    filters: Filters,
    vendors: Vec<VendorOption>,
    orders: Vec<OrderRow>,
    next_href: Option<String>,
}

pub async fn list(
    session: ConsoleSession,
    state: web::Data<AppState>,
    req: HttpRequest,
    ConsoleQuery(q): ConsoleQuery<SearchQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let page = state
        .app
        .search_orders(&q.filter()?, q.cursor()?, q.page_size()?)
        .await?;
    let vendors = state.app.vendors().await?;
    let chosen = q.vendor_id.as_deref().unwrap_or_default();
    let next_href = page.next.map(|c| {
        let rest: Vec<(String, String)> = form_urlencoded::parse(req.query_string().as_bytes())
            .filter(|(k, _)| k != "cursor")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.extend_pairs(rest);
        query.append_pair("cursor", &encode_cursor(&[c.created_at_ms, c.id]));
        format!("/admin/orders?{}", query.finish())
    });
    let get = |v: &Option<String>| v.clone().unwrap_or_default();
    html(&OrdersPage {
        chrome: Chrome::new(&session, "orders"),
        filters: Filters {
            q: get(&q.q),
            environment: get(&q.environment).to_ascii_uppercase(),
            status: get(&q.status).to_ascii_uppercase(),
            created_from: get(&q.created_from),
            created_to: get(&q.created_to),
            reason_code: get(&q.reason_code).to_ascii_lowercase(),
        },
        vendors: vendors
            .into_iter()
            .map(|v| VendorOption {
                selected: v.vendor.vendor_id.to_string() == chosen,
                id: v.vendor.vendor_id.to_string(),
                name: v.vendor.name,
            })
            .collect(),
        orders: page
            .orders
            .into_iter()
            .map(|o| OrderRow {
                href: order_href(
                    crate::domain::Tenant {
                        vendor: o.vendor_id,
                        environment: o.environment,
                    }
                    .order(o.order_number),
                ),
                number: o.order_number.get(),
                environment: o.environment.as_str(),
                customer: o.customer,
                vendor: o.vendor_name,
                lines: o.lines,
                statuses: o
                    .statuses
                    .into_iter()
                    .map(|(s, count)| Badge {
                        name: s.to_string(),
                        class: status_class(s),
                        count,
                    })
                    .collect(),
                created: when(o.created_at_ms),
                updated: when(o.updated_at_ms),
            })
            .collect(),
        next_href,
    })
}

pub struct LineRow {
    pub number: i64,
    pub asset: i64,
    pub asset_title: String,
    pub status: &'static str,
    pub status_class: &'static str,
    pub cancel_reason_code: Option<&'static str>,
    /// The answer to "why does (or doesn't) my link work?", in one sentence.
    pub summary: String,
    pub links: &'static str,
    pub links_class: &'static str,
    pub price: String,
    pub completed: bool,
    pub cancelable: bool,
}

pub struct BadgeOnly {
    pub name: String,
    pub class: &'static str,
}

pub struct TimelineEntry {
    pub at: String,
    pub kind: String,
    pub title: &'static str,
    pub line: Option<i64>,
    pub badge: Option<BadgeOnly>,
    pub detail: String,
    pub actor: String,
    /// Requests folded into this entry (one download manager's ranges, one
    /// poll's links): each in words, newest first; empty for a single event.
    pub folded: Vec<String>,
    /// Where the webhook event this change sent stands, per endpoint.
    pub webhooks: Vec<WebhookNote>,
    /// What events fold together: consecutive ones with the same key.
    fold_key: Option<String>,
}

/// One endpoint's delivery of a change's webhook event, in words.
pub struct WebhookNote {
    pub class: &'static str,
    /// `delivered`, `failed`, `not sent`, `waiting`, `sending`, `retrying` or `none`.
    pub state: &'static str,
    pub text: String,
    pub href: Option<String>,
}

/// Where the webhook event of a change stands: one note per endpoint, or
/// one saying no endpoint wanted it (nothing for history older than the
/// record of its event).
fn webhook_notes(
    data: &serde_json::Value,
    deliveries: &HashMap<String, Vec<EventDelivery>>,
) -> Vec<WebhookNote> {
    let id = match data.get("webhook_event") {
        None => return Vec::new(),
        Some(serde_json::Value::String(id)) => id,
        Some(_) => {
            return vec![WebhookNote {
                class: "badge grey",
                state: "none",
                text: "No webhook: no endpoint of this vendor wants this event.".into(),
                href: None,
            }];
        }
    };
    let Some(list) = deliveries.get(id) else {
        return Vec::new();
    };
    list.iter()
        .map(|d| {
            let last = match (&d.delivery.last_status, &d.delivery.last_error) {
                (Some(s), _) => format!("HTTP {s}"),
                (None, Some(e)) => e.clone(),
                (None, None) => String::new(),
            };
            let tries = match d.delivery.attempts {
                1 => "1 attempt".to_owned(),
                n => format!("{n} attempts"),
            };
            let (class, state, text) = match (d.delivery.state, &d.waiting_for) {
                (DeliveryState::Delivered, _) => (
                    "badge green",
                    "delivered",
                    format!("Webhook {id} delivered to {} ({last}, {tries}).", d.url),
                ),
                (DeliveryState::Failed, _) if d.delivery.attempts == 0 => (
                    "badge red",
                    "not sent",
                    format!(
                        "Webhook {id} was never sent to {}: the endpoint was stopped ({last}); redeliver it from the endpoint's page.",
                        d.url
                    ),
                ),
                (DeliveryState::Failed, _) => (
                    "badge red",
                    "failed",
                    format!(
                        "Webhook {id} gave up on {} after {tries} (last: {last}); redeliver it from the endpoint's page.",
                        d.url
                    ),
                ),
                (DeliveryState::Pending, Some(head)) => (
                    "badge amber",
                    "waiting",
                    format!(
                        "Webhook {id} to {} is waiting behind {head}, which keeps failing.",
                        d.url
                    ),
                ),
                (DeliveryState::Pending, None) if d.delivery.attempts == 0 => (
                    "badge amber",
                    "sending",
                    format!("Webhook {id} to {}: sending now.", d.url),
                ),
                (DeliveryState::Pending, None) => (
                    "badge amber",
                    "retrying",
                    format!(
                        "Webhook {id} to {}: {tries} failed (last: {last}); next try {}.",
                        d.url,
                        when(d.delivery.next_attempt_at_ms)
                    ),
                ),
            };
            WebhookNote {
                class,
                state,
                text,
                href: Some(format!("/admin/webhooks/{}", d.webhook_id)),
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "order.html")]
struct OrderPage {
    chrome: Chrome,
    href: String,
    number: i64,
    environment: &'static str,
    vendor_id: String,
    vendor_name: String,
    notice: Option<&'static str>,
    cancelable: bool,
    customer: String,
    total: String,
    lines: Vec<LineRow>,
    timeline: Vec<TimelineEntry>,
    more_href: Option<String>,
    /// Where the page polls for changes (the newest history only): the
    /// page's own address with its `version`, answered 204 while nothing
    /// changed.
    live_href: Option<String>,
}

/// A digest of what the page shows: the same while nothing changed, so a
/// poll can be answered 204 (no body, nothing swapped).
fn version(lines: &[LineRow], timeline: &[TimelineEntry], more: Option<&str>) -> String {
    use std::hash::{Hash as _, Hasher as _};
    let mut h = std::hash::DefaultHasher::new();
    for l in lines {
        (
            l.status,
            &l.summary,
            l.links,
            &l.price,
            l.cancel_reason_code,
        )
            .hash(&mut h);
    }
    for e in timeline {
        (
            &e.at, &e.kind, e.title, e.line, &e.detail, &e.actor, &e.folded,
        )
            .hash(&mut h);
        e.badge.as_ref().map(|b| &b.name).hash(&mut h);
        for w in &e.webhooks {
            (w.state, &w.text).hash(&mut h);
        }
    }
    more.hash(&mut h);
    format!("{:016x}", h.finish())
}

fn text(data: &serde_json::Value, key: &str) -> String {
    match &data[key] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// One history event, in words.
fn entry(
    e: &Event,
    numbers: &HashMap<LineId, OrderLineId>,
    actor: String,
    deliveries: &HashMap<String, Vec<EventDelivery>>,
) -> TimelineEntry {
    let d = &e.data;
    let line = numbers.get(&e.line_id).map(|n| n.get());
    let (title, badge, detail) = match e.kind.as_str() {
        "registered" => ("Registered", None, String::new()),
        "fulfilled" => (
            "Fulfilled",
            None,
            "the file was checked; links can be issued".into(),
        ),
        "failed" => ("Fulfilment failed", None, text(d, "message")),
        "link_issued" => (
            "Link issued",
            None,
            format!(
                "{} link via {}, valid until {}",
                text(d, "action"),
                text(d, "via"),
                chrono::DateTime::parse_from_rfc3339(&text(d, "expires_at"))
                    .map_or_else(|_| text(d, "expires_at"), |t| when(t.timestamp_millis()))
            ),
        ),
        "canceled" => {
            let code = text(d, "reason_code");
            let detail = format!("“{}”", text(d, "reason"));
            let badge = (!code.is_empty()).then_some(BadgeOnly {
                name: code,
                class: "badge grey",
            });
            ("Canceled", badge, detail)
        }
        "access" => {
            let result = text(d, "result");
            let class = match result.as_str() {
                "served" | "not_modified" => "badge green",
                "access_revoked" => "badge red",
                _ => "badge amber",
            };
            let range = text(d, "range");
            let ip = text(d, "client_ip");
            let title = match (text(d, "action").as_str(), result.as_str()) {
                (_, "link_expired") => "Expired link used",
                ("view", _) => "View",
                _ => "Download",
            };
            (
                title,
                Some(BadgeOnly {
                    name: result,
                    class,
                }),
                [
                    format!("{} {}", text(d, "method"), text(d, "status")),
                    text(d, "action"),
                    if range.is_empty() {
                        String::new()
                    } else {
                        format!("range {range}")
                    },
                    if ip.is_empty() {
                        String::new()
                    } else {
                        format!("from {ip}")
                    },
                    e.request_id
                        .as_ref()
                        .map_or_else(String::new, |r| format!("reference {r}")),
                ]
                .into_iter()
                .filter(|s| !s.trim().is_empty())
                .collect::<Vec<_>>()
                .join(" · "),
            )
        }
        _ => ("Event", None, d.to_string()),
    };
    let fold_key = match e.kind.as_str() {
        "access" => Some(format!(
            "access {line:?} {} {} {}",
            text(d, "action"),
            text(d, "result"),
            text(d, "client_ip")
        )),
        "link_issued" => Some(format!("link {} {}", e.actor, text(d, "via"))),
        _ => None,
    };
    TimelineEntry {
        at: when(e.at_ms),
        kind: e.kind.clone(),
        title,
        line,
        badge,
        detail,
        actor,
        folded: Vec::new(),
        webhooks: webhook_notes(d, deliveries),
        fold_key,
    }
}

/// Folds runs of alike events into one entry: a download manager's 120
/// Range requests are one download; the links one `/purchase/info` poll
/// mints for every line are one row. Each entry lists what it folded.
fn fold(entries: Vec<TimelineEntry>) -> Vec<TimelineEntry> {
    let mut out: Vec<TimelineEntry> = Vec::with_capacity(entries.len());
    for e in entries {
        if let Some(last) = out.last_mut()
            && e.fold_key.is_some()
            && last.fold_key == e.fold_key
        {
            if last.folded.is_empty() {
                last.folded.push(format!(
                    "{} · {}{}",
                    last.at,
                    line_tag(last.line),
                    last.detail
                ));
            }
            last.folded
                .push(format!("{} · {}{}", e.at, line_tag(e.line), e.detail));
            if last.line != e.line {
                last.line = None;
            }
            // The run's oldest time: it started then.
            last.at = e.at;
            continue;
        }
        out.push(e);
    }
    for e in &mut out {
        if !e.folded.is_empty() {
            let n = e.folded.len();
            e.detail = match e.kind.as_str() {
                "access" => format!("{n} requests (ranges of one download, or repeats)"),
                _ => format!("{n} links"),
            };
            if e.kind == "link_issued" {
                e.title = "Links issued";
            }
        }
    }
    out
}

fn line_tag(line: Option<i64>) -> String {
    line.map_or_else(String::new, |l| format!("line {l} · "))
}

/// `06 Dec 07:37 UTC`: a time in a sentence.
fn short(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%d %b %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// What a line's own history says about its links, in one sentence.
fn summary(line: &OrderLine, history: &[&Event], canceler: Option<String>, size: i64) -> String {
    let accesses = || history.iter().filter(|e| e.kind == "access");
    let result = |e: &&&Event| text(&e.data, "result");
    match line.status {
        LineStatus::Processing => {
            "Being fulfilled: links can be issued once its file is checked.".to_owned()
        }
        LineStatus::Failed => format!(
            "Fulfilment failed{}. No link can be issued for it.",
            line.failure_message
                .as_deref()
                .map_or_else(String::new, |m| format!(": {m}"))
        ),
        LineStatus::Canceled => {
            let at = line.canceled_at_ms.map(short).unwrap_or_default();
            let by = canceler.unwrap_or_else(|| {
                line.canceled_by
                    .as_ref()
                    .map_or("someone".to_owned(), |a| a.kind().to_owned())
            });
            let reason = line
                .cancel_reason
                .as_ref()
                .map_or_else(String::new, |r| format!(" — “{}”", r.as_str()));
            let refused = accesses().filter(|e| result(e) == "access_revoked").count();
            let tries = match refused {
                0 => " — no try since".to_owned(),
                1 => " — 1 refused try since".to_owned(),
                n => format!(" — {n} refused tries since"),
            };
            format!("Canceled {at} by {by}{reason}{tries}. Its links never work again.")
        }
        LineStatus::Completed => {
            if let Some(until) = line
                .access_until_ms
                .filter(|&t| crate::domain::now_ms() > t)
            {
                return format!(
                    "Access window closed {}: no new link can be issued (links issued before then work until they expire).",
                    short(until)
                );
            }
            if let Some(last) = accesses().next()
                && result(&last) == "link_expired"
            {
                return format!(
                    "Last link expired (used {}): issue a new one.",
                    short(last.at_ms)
                );
            }
            // Complete: the file's last byte went out (SPEC §14). Accesses
            // recorded before `completed` existed count whole GETs.
            let complete = |e: &&&Event| match e.data.get("completed") {
                Some(_) => reached_the_end(e, size),
                None => {
                    let range = text(&e.data, "range");
                    result(e) == "served"
                        && text(&e.data, "method") == "GET"
                        && (range.is_empty() || range.starts_with("bytes=0-"))
                }
            };
            let downloads: Vec<&&Event> = accesses().filter(complete).collect();
            let interrupted = accesses()
                .filter(|e| {
                    e.data.get("completed") == Some(&serde_json::Value::Bool(false))
                        && result(e) == "served"
                        && text(&e.data, "method") == "GET"
                })
                .count();
            let interrupted = match interrupted {
                0 => String::new(),
                1 => "; 1 interrupted".to_owned(),
                n => format!("; {n} interrupted"),
            };
            match downloads.first() {
                None => format!("Links work; no complete download yet{interrupted}."),
                Some(last) => format!(
                    "Links work; {} complete download{}, last {}{interrupted}.",
                    downloads.len(),
                    if downloads.len() == 1 { "" } else { "s" },
                    short(last.at_ms)
                ),
            }
        }
    }
}

fn order_page(
    session: &ConsoleSession,
    d: OrderDetail,
    notice: Option<&'static str>,
    newest: bool,
) -> OrderPage {
    let href = order_href(d.order);
    let numbers: HashMap<LineId, OrderLineId> = d
        .lines
        .iter()
        .map(|(l, _)| (l.line_id, l.order_line_id))
        .collect();
    let lines: Vec<LineRow> = d
        .lines
        .iter()
        .map(|(l, r)| {
            let (links, links_class) = match (l.status, r.revoked, r.pending) {
                (LineStatus::Processing, ..) => ("not yet", "badge amber"),
                (LineStatus::Failed, ..) => ("none", "badge dark"),
                (_, _, true) => ("revocation pending", "badge amber"),
                (LineStatus::Canceled, ..) | (_, Some(true), _) => ("refused", "badge red"),
                (_, None, _) => ("store unreachable", "badge amber"),
                _ => ("work", "badge green"),
            };
            let own: Vec<&Event> = d
                .history
                .iter()
                .filter(|e| e.line_id == l.line_id)
                .collect();
            let canceler = own
                .iter()
                .find(|e| e.kind == "canceled")
                .map(|e| d.actor_label(e));
            LineRow {
                number: l.order_line_id.get(),
                asset: l.asset_id.get(),
                asset_title: d
                    .asset_titles
                    .get(&l.asset_id)
                    .cloned()
                    .unwrap_or_else(|| format!("asset {}", l.asset_id)),
                status: l.status.as_str(),
                status_class: status_class(l.status),
                cancel_reason_code: l.cancel_reason_code.map(|c| c.as_str()),
                summary: summary(
                    l,
                    &own,
                    canceler,
                    l.copy_size_bytes
                        .or_else(|| d.asset_sizes.get(&l.asset_id).copied())
                        .unwrap_or(0),
                ),
                links,
                links_class,
                price: format!("{:.2}", l.line_item_price.get()),
                completed: l.status == LineStatus::Completed,
                cancelable: l.status.is_cancelable(),
            }
        })
        .collect();
    let customer = d
        .lines
        .first()
        .map(|(l, _)| l.customer.as_str().to_owned())
        .unwrap_or_default();
    let total: f64 = d.lines.iter().map(|(l, _)| l.line_item_price.get()).sum();
    let timeline = fold(
        d.history
            .iter()
            .map(|e| entry(e, &numbers, d.actor_label(e), &d.webhooks))
            .collect(),
    );
    let more_href = d.history_more.map(|at| {
        let before: String =
            form_urlencoded::byte_serialize(ms_to_rfc3339(at).as_bytes()).collect();
        format!("{href}?history_before={before}")
    });
    let live_href = newest.then(|| {
        format!(
            "{href}?live={}",
            version(&lines, &timeline, more_href.as_deref())
        )
    });
    OrderPage {
        chrome: Chrome::new(session, "orders"),
        number: d.order.order.get(),
        environment: d.order.tenant.environment.as_str(),
        vendor_id: d.order.tenant.vendor.to_string(),
        vendor_name: d.vendor_name,
        notice,
        cancelable: lines.iter().any(|l| l.cancelable),
        customer,
        total: format!("{total:.2}"),
        lines,
        timeline,
        more_href,
        live_href,
        href,
    }
}

pub async fn detail(
    session: ConsoleSession,
    state: web::Data<AppState>,
    req: HttpRequest,
    ConsoleQuery(q): ConsoleQuery<DetailQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let page = q.page()?;
    let d = state.app.order_detail(order_of(&req)?, page).await?;
    let param = |name: &str| {
        form_urlencoded::parse(req.query_string().as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let notice = (param("done").as_deref() == Some("canceled"))
        .then_some("Canceled. Its links are refused on every gateway instance from now on.");
    let page = order_page(&session, d, notice, page.before_ms.is_none());
    // The page's poll: nothing changed, nothing to send.
    if let (Some(seen), Some(live)) = (param("live"), &page.live_href)
        && live.ends_with(&format!("?live={seen}"))
    {
        return Ok(HttpResponse::NoContent().finish());
    }
    html(&page)
}

#[derive(Template)]
#[template(path = "cancel.html")]
struct CancelPage {
    chrome: Chrome,
    href: String,
    number: i64,
    environment: &'static str,
    vendor_name: String,
    line: Option<i64>,
    what: String,
}

#[derive(Deserialize)]
pub struct CancelQuery {
    line: Option<i64>,
}

pub async fn confirm_cancel(
    session: ConsoleSession,
    state: web::Data<AppState>,
    req: HttpRequest,
    ConsoleQuery(q): ConsoleQuery<CancelQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let order = order_of(&req)?;
    let vendor_name = state.app.vendor(order.tenant.vendor).await?.name;
    state.app.order(order).await?;
    html(&CancelPage {
        chrome: Chrome::new(&session, "orders"),
        href: order_href(order),
        number: order.order.get(),
        environment: order.tenant.environment.as_str(),
        vendor_name,
        what: q
            .line
            .map_or_else(|| "the whole order".to_owned(), |l| format!("line {l}")),
        line: q.line,
    })
}

#[derive(Deserialize)]
pub struct CancelForm {
    csrf: String,
    reason: String,
    reason_code: Option<String>,
    line: Option<i64>,
}

impl CarriesCsrf for CancelForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub async fn cancel(
    Submitted { session, form: f }: Submitted<CancelForm>,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    let order = order_of(&req)?;
    // The admin API's cancel body, parsed the same way.
    let (line, reason) = CancelBody {
        order_line_id: f.line,
        reason: f.reason,
        reason_code: f.reason_code.filter(|c| !c.is_empty()),
    }
    .parse()?;
    state
        .app
        .operator_cancel(&session.operator, order, line, &reason)
        .await?;
    Ok(see_other(&format!("{}?done=canceled", order_href(order))))
}

#[derive(Template)]
#[template(path = "link.html")]
struct LinkPage {
    chrome: Chrome,
    href: String,
    number: i64,
    line: i64,
    action: &'static str,
    url: String,
    expires: String,
}

#[derive(Deserialize)]
pub struct LinkForm {
    csrf: String,
    action: Action,
    /// Seconds (the form offers 1 hour, 24 hours and 7 days).
    lifetime: Option<i64>,
}

impl CarriesCsrf for LinkForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub async fn reissue(
    Submitted { session, form: f }: Submitted<LinkForm>,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    let order = order_of(&req)?;
    let line = segment::<OrderLineId>(&req)?;
    let minted = state
        .app
        .operator_link(&session.operator, order, line, f.action, f.lifetime)
        .await?;
    html(&LinkPage {
        chrome: Chrome::new(&session, "orders"),
        href: order_href(order),
        number: order.order.get(),
        line: line.get(),
        action: f.action.as_str(),
        url: minted.url,
        expires: when(minted.expires_at * 1000),
    })
}

#[derive(Template)]
#[template(path = "evidence.html")]
struct EvidencePage {
    chrome: Chrome,
    href: String,
    number: i64,
    environment: &'static str,
    vendor_name: String,
    /// One sentence per line: complete downloads, the first, refusals.
    summaries: Vec<String>,
    text: String,
    units: String,
    limit: String,
}

/// `GET /admin/orders/{vendor}/{environment}/{order}/evidence`: the text
/// form of `/purchase/access-log`, with a copy button.
pub async fn evidence(
    session: ConsoleSession,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    use crate::app::evidence::{TEXT_LIMIT, grouped};
    let order = order_of(&req)?;
    let evidence = state.app.evidence(order, None).await?;
    let text = evidence.text(TEXT_LIMIT);
    let summaries = text
        .lines()
        .skip_while(|l| *l != "Summary")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    html(&EvidencePage {
        chrome: Chrome::new(&session, "orders"),
        href: order_href(order),
        number: order.order.get(),
        environment: order.tenant.environment.as_str(),
        vendor_name: evidence.vendor_name.clone(),
        summaries,
        units: grouped(i64::try_from(text.encode_utf16().count()).unwrap_or(i64::MAX)),
        limit: grouped(i64::try_from(TEXT_LIMIT).unwrap_or(i64::MAX)),
        text,
    })
}
