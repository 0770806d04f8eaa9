//! Orders: search, one order with its lines and timeline, cancel (with a
//! confirmation page and a reason), and a fresh link for support.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::app::search::OrderDetail;
use crate::console::session::{CarriesCsrf, Submitted};
use crate::console::view::{Chrome, html, see_other, status_class, when};
use crate::console::{ConsoleError, ConsoleQuery, ConsoleSession};
use crate::domain::{LineId, LineStatus, OrderLineId, OrderRef, ms_to_rfc3339};
use crate::http::params::encode_cursor;
use crate::http::params::{CancelBody, DetailQuery, SearchQuery};
use crate::http::path::{order_of, segment};
use crate::http::state::AppState;
use crate::links::Action;
use crate::store::events::Event;

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
    pub customer: String,
    pub status: &'static str,
    pub status_class: &'static str,
    pub cancel_reason: Option<String>,
    pub cancel_reason_code: Option<&'static str>,
    pub canceled_by: Option<String>,
    pub failure: Option<String>,
    pub revocation: &'static str,
    pub revocation_class: &'static str,
    pub revoked_until: Option<String>,
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
    lines: Vec<LineRow>,
    timeline: Vec<TimelineEntry>,
    more_href: Option<String>,
}

fn text(data: &serde_json::Value, key: &str) -> String {
    match &data[key] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// One history event, in words.
fn entry(e: Event, numbers: &HashMap<LineId, OrderLineId>) -> TimelineEntry {
    let d = &e.data;
    let (title, badge, detail) = match e.kind.as_str() {
        "registered" => ("Registered", None, format!("asset {}", text(d, "asset_id"))),
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
            (
                "Download",
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
                ]
                .into_iter()
                .filter(|s| !s.trim().is_empty())
                .collect::<Vec<_>>()
                .join(" · "),
            )
        }
        _ => ("Event", None, d.to_string()),
    };
    TimelineEntry {
        at: when(e.at_ms),
        kind: e.kind.clone(),
        title,
        line: numbers.get(&e.line_id).map(|n| n.get()),
        badge,
        detail,
        actor: e.actor.to_string(),
    }
}

fn order_page(session: &ConsoleSession, d: OrderDetail, notice: Option<&'static str>) -> OrderPage {
    let href = order_href(d.order);
    let numbers: HashMap<LineId, OrderLineId> = d
        .lines
        .iter()
        .map(|(l, _)| (l.line_id, l.order_line_id))
        .collect();
    let lines: Vec<LineRow> = d
        .lines
        .into_iter()
        .map(|(l, r)| {
            let (revocation, revocation_class) = match (l.status, r.revoked, r.pending) {
                (_, _, true) => ("revocation pending", "badge amber"),
                (_, Some(true), _) => ("links refused", "badge red"),
                (LineStatus::Canceled, Some(false), _) => ("expired links only", "badge grey"),
                (_, None, _) => ("store unreachable", "badge amber"),
                _ => ("links work", "badge green"),
            };
            LineRow {
                number: l.order_line_id.get(),
                asset: l.asset_id.get(),
                customer: l.customer.as_str().to_owned(),
                status: l.status.as_str(),
                status_class: status_class(l.status),
                cancel_reason: l.cancel_reason.map(|r| r.as_str().to_owned()),
                cancel_reason_code: l.cancel_reason_code.map(|c| c.as_str()),
                canceled_by: l.canceled_by.map(|a| a.to_string()),
                failure: l.failure_message,
                revocation,
                revocation_class,
                revoked_until: r.until_ms.filter(|_| r.revoked == Some(true)).map(when),
                price: format!("{:.2}", l.line_item_price.get()),
                completed: l.status == LineStatus::Completed,
                cancelable: l.status.is_cancelable(),
            }
        })
        .collect();
    let more_href = d.history_more.map(|at| {
        let before: String =
            form_urlencoded::byte_serialize(ms_to_rfc3339(at).as_bytes()).collect();
        format!("{href}?history_before={before}")
    });
    OrderPage {
        chrome: Chrome::new(session, "orders"),
        number: d.order.order.get(),
        environment: d.order.tenant.environment.as_str(),
        vendor_id: d.order.tenant.vendor.to_string(),
        vendor_name: d.vendor_name,
        notice,
        cancelable: lines.iter().any(|l| l.cancelable),
        lines,
        timeline: d.history.into_iter().map(|e| entry(e, &numbers)).collect(),
        more_href,
        href,
    }
}

pub async fn detail(
    session: ConsoleSession,
    state: web::Data<AppState>,
    req: HttpRequest,
    ConsoleQuery(q): ConsoleQuery<DetailQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let d = state.app.order_detail(order_of(&req)?, q.page()?).await?;
    let done = form_urlencoded::parse(req.query_string().as_bytes())
        .any(|(k, v)| k == "done" && v == "canceled");
    let notice =
        done.then_some("Canceled. Its links are refused on every gateway instance from now on.");
    html(&order_page(&session, d, notice))
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
        .operator_link(&session.operator, order, line, f.action)
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
