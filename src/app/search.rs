//! What operators look at: orders across vendors, one order with the live
//! revocation state of its lines and its full history, and the overview.

use std::collections::{BTreeMap, HashMap};

use super::{App, AppError};
use crate::domain::{
    Actor, AssetId, DeliveryState, Environment, LineStatus, OrderNumber, OrderRef, TokenId,
    VendorId, WebhookId, now_ms,
};
use crate::revocation::SetState;
use crate::store::events::Event;
use crate::store::orders::OrderLine;
pub use crate::store::search::{OrderCursor, OrderFilter};
use crate::store::webhooks::{Delivery, Webhook};

/// Accesses of one hour, by what they got.
#[derive(Clone, Copy, Debug, Default)]
pub struct HourCounts {
    pub hour_ms: i64,
    pub served: i64,
    pub refused: i64,
    pub expired: i64,
    pub other: i64,
}

/// The overview's pictures: 168 hours of accesses, 7 days of cancels.
pub struct Activity {
    pub hours: Vec<HourCounts>,
    /// (start of the day, lines canceled that day), oldest first.
    pub cancels: Vec<(i64, i64)>,
}

/// One order as a search result.
pub struct OrderSummary {
    pub vendor_id: VendorId,
    pub vendor_name: String,
    pub environment: Environment,
    pub order_number: OrderNumber,
    pub customer: String,
    pub lines: i64,
    pub statuses: BTreeMap<LineStatus, i64>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

pub struct OrderPage {
    pub orders: Vec<OrderSummary>,
    /// Where the next page starts, if there is one.
    pub next: Option<OrderCursor>,
}

/// Whether a line's links are refused, as the revocation store says right now.
#[derive(Clone, Copy, Debug)]
pub struct RevocationView {
    /// `None` when the store cannot say (unreachable, rebuilding).
    pub revoked: Option<bool>,
    /// Canceled, but not yet confirmed by the store (in the outbox).
    pub pending: bool,
    /// Until when the revocation is kept (every link minted before the cancel
    /// has expired by then).
    pub until_ms: Option<i64>,
}

pub struct OrderDetail {
    pub order: OrderRef,
    pub vendor_name: String,
    pub lines: Vec<(OrderLine, RevocationView)>,
    /// Newest first.
    pub history: Vec<Event>,
    /// `history_before` of the next history page, if there is more.
    pub history_more: Option<i64>,
    /// The display prefixes of the vendor's API tokens (for actor labels).
    pub token_prefixes: HashMap<TokenId, String>,
    /// The titles of the order's assets.
    pub asset_titles: HashMap<AssetId, String>,
    /// The sizes of the order's assets' files (a stamped line's own copy
    /// has its own size: `OrderLine::copy_size_bytes`).
    pub asset_sizes: HashMap<AssetId, i64>,
    /// The webhook deliveries of the events in `history` that reported a
    /// change (`data.webhook_event`), by event id.
    pub webhooks: HashMap<String, Vec<EventDelivery>>,
}

/// Where the webhook event of a history event stands at one endpoint.
pub struct EventDelivery {
    pub webhook_id: WebhookId,
    pub url: String,
    pub delivery: Delivery,
    /// The event it waits behind, if it is queued behind a failing one.
    pub waiting_for: Option<String>,
}

impl OrderDetail {
    /// Who did it, for people (SPEC §7 `actor_label`): the vendor's name and
    /// the prefix of the token it used, an operator's name, the buyer with
    /// the recorded IP address.
    pub fn actor_label(&self, e: &Event) -> String {
        match &e.actor {
            Actor::Vendor(token) => match self.token_prefixes.get(token) {
                Some(prefix) => format!("{} (API token {prefix}…)", self.vendor_name),
                None => format!("{} (API)", self.vendor_name),
            },
            Actor::Operator(name) => format!("{name} (operator)"),
            Actor::Cli(user) => format!("{user} at the command line"),
            Actor::Buyer => match e.data.get("client_ip").and_then(|ip| ip.as_str()) {
                Some(ip) => format!("buyer at {ip}"),
                None => "buyer".to_owned(),
            },
            Actor::System => "assetgate".to_owned(),
        }
    }
}

/// Request ids are what `X-Request-Id` may carry (8 characters or more
/// here): letters, digits and `-_.:`, no spaces — no customer's full name.
fn looks_like_reference(q: &str) -> bool {
    (8..=128).contains(&q.len())
        && q.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
        && q.bytes().any(|b| b.is_ascii_digit())
}

/// A page of history: at most `limit` events before `before_ms`.
#[derive(Clone, Copy, Debug)]
pub struct HistoryPage {
    pub limit: u64,
    pub before_ms: Option<i64>,
}

impl HistoryPage {
    /// The newest 200 events.
    pub const LATEST: Self = Self {
        limit: 200,
        before_ms: None,
    };
}

pub struct Overview {
    pub lines_by_status: BTreeMap<LineStatus, i64>,
    /// Accesses of the last 24 hours by result name.
    pub accesses_24h: BTreeMap<String, i64>,
    pub revocation_store_kind: &'static str,
    pub revocation_store_state: SetState,
    pub revocation_outbox: u64,
    pub fulfilment_queue: u64,
    /// Enabled webhook endpoints whose latest attempts failed.
    pub webhooks_failing: u64,
    /// Endpoints failing or disabled, with their vendor's name (at most 20).
    pub webhooks_troubled: Vec<(Webhook, String)>,
}

/// What `/metrics` reports of shared state (`None`: the database did not say).
pub struct OperationsGauges {
    pub complete: bool,
    pub outbox: Option<u64>,
    pub fulfilment_queue: Option<u64>,
}

impl App {
    /// The gauges of `/metrics`: two indexed counts and the revocation set's state.
    pub async fn operations_gauges(&self) -> OperationsGauges {
        OperationsGauges {
            complete: self.revocations.state().await == SetState::Complete,
            outbox: self.store.outbox_depth().await.ok(),
            fulfilment_queue: self.store.fulfilment_queue().await.ok(),
        }
    }

    /// Orders matching `filter`, newest first, `limit` per page.
    pub async fn search_orders(
        &self,
        filter: &OrderFilter,
        cursor: Option<OrderCursor>,
        limit: u64,
    ) -> Result<OrderPage, AppError> {
        let filter = &self.with_reference(filter).await?;
        let mut rows = self
            .store
            .search_orders(filter, cursor, limit.saturating_add(1))
            .await?;
        let more = rows.len() as u64 > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let keys: Vec<_> = rows
            .iter()
            .map(|r| (r.vendor_id, r.environment, r.order_number))
            .collect();
        let mut totals = self.store.order_totals(&keys).await?;
        let mut vendor_ids: Vec<VendorId> = rows.iter().map(|r| r.vendor_id).collect();
        vendor_ids.sort_unstable_by_key(ToString::to_string);
        vendor_ids.dedup();
        let names = self.store.vendor_names(&vendor_ids).await?;
        let next = more.then(|| rows.last()).flatten().map(|r| OrderCursor {
            created_at_ms: r.created_at_ms,
            id: r.id,
        });
        let orders = rows
            .into_iter()
            .map(|r| {
                let t = totals
                    .remove(&(r.vendor_id, r.environment, r.order_number))
                    .unwrap_or_default();
                OrderSummary {
                    vendor_name: names.get(&r.vendor_id).cloned().unwrap_or_default(),
                    vendor_id: r.vendor_id,
                    environment: r.environment,
                    order_number: r.order_number,
                    customer: r.customer.as_str().to_owned(),
                    lines: t.lines,
                    statuses: t.statuses.into_iter().collect(),
                    created_at_ms: r.created_at_ms,
                    updated_at_ms: t.updated_at_ms.max(r.created_at_ms),
                }
            })
            .collect();
        Ok(OrderPage { orders, next })
    }

    /// A search text that is the reference of a refused download (the
    /// buyer's error page shows it) finds that download's order; any other
    /// text stays a customer search.
    async fn with_reference(&self, filter: &OrderFilter) -> Result<OrderFilter, AppError> {
        let mut filter = filter.clone();
        let Some(q) = filter
            .customer
            .as_deref()
            .filter(|q| looks_like_reference(q))
        else {
            return Ok(filter);
        };
        if let Some((vendor, environment, number)) = self.store.order_of_reference(q).await?
            && filter.vendor.is_none_or(|v| v == vendor)
            && filter.environment.is_none_or(|e| e == environment)
        {
            filter.customer = None;
            filter.vendor = Some(vendor);
            filter.environment = Some(environment);
            filter.order_number = Some(number);
        }
        Ok(filter)
    }

    /// One order: its lines with their live revocation state, and a page of
    /// its history (newest first).
    pub async fn order_detail(
        &self,
        order: OrderRef,
        page: HistoryPage,
    ) -> Result<OrderDetail, AppError> {
        let lines = self.order(order).await?;
        let vendor_name = self.vendor(order.tenant.vendor).await?.name;
        let ids: Vec<_> = lines.iter().map(|l| l.line_id).collect();
        let mut history = self
            .store
            .history_page(&ids, page.before_ms, page.limit.saturating_add(1))
            .await?;
        let more = history.len() as u64 > page.limit;
        history.truncate(usize::try_from(page.limit).unwrap_or(usize::MAX));
        let history_more = more.then(|| history.last().map(|e| e.at_ms)).flatten();
        let mut with_state = Vec::with_capacity(lines.len());
        for line in lines {
            let revoked = self.revocations.is_revoked(line.line_id).await.ok();
            let view = RevocationView {
                revoked,
                pending: line.revocation_pending,
                until_ms: line.revoke_until_ms,
            };
            with_state.push((line, view));
        }
        let token_prefixes = self
            .store
            .list_tokens(order.tenant.vendor)
            .await?
            .into_iter()
            .map(|t| (t.token_id, t.prefix))
            .collect();
        let mut asset_ids: Vec<AssetId> = with_state.iter().map(|(l, _)| l.asset_id).collect();
        asset_ids.sort_unstable_by_key(|a| a.get());
        asset_ids.dedup();
        let assets = self.store.get_assets(&asset_ids).await?;
        let asset_sizes = assets.iter().map(|a| (a.asset_id, a.size_bytes)).collect();
        let asset_titles = assets.into_iter().map(|a| (a.asset_id, a.title)).collect();
        let webhooks = self.event_deliveries(&history).await?;
        Ok(OrderDetail {
            order,
            vendor_name,
            lines: with_state,
            history,
            history_more,
            token_prefixes,
            asset_titles,
            asset_sizes,
            webhooks,
        })
    }

    /// The deliveries of the webhook events these history events reported.
    async fn event_deliveries(
        &self,
        history: &[Event],
    ) -> Result<HashMap<String, Vec<EventDelivery>>, AppError> {
        let events: Vec<String> = history
            .iter()
            .filter_map(|e| e.data.get("webhook_event")?.as_str().map(str::to_owned))
            .collect();
        let rows = self.store.deliveries_of_events(&events).await?;
        let mut heads = HashMap::new();
        let mut out: HashMap<String, Vec<EventDelivery>> = HashMap::new();
        for (delivery, url) in rows {
            let waiting_for = if delivery.ordered && delivery.state == DeliveryState::Pending {
                let head = match heads.entry(delivery.webhook_id) {
                    std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::hash_map::Entry::Vacant(e) => {
                        e.insert(self.store.queue_head(delivery.webhook_id).await?)
                    }
                };
                head.as_ref()
                    .filter(|h| h.id < delivery.id)
                    .map(|h| h.event_id.clone())
            } else {
                None
            };
            out.entry(delivery.event_id.clone())
                .or_default()
                .push(EventDelivery {
                    webhook_id: delivery.webhook_id,
                    url,
                    delivery,
                    waiting_for,
                });
        }
        Ok(out)
    }

    /// The last 7 days, for the overview's charts: accesses per hour by
    /// result (oldest first, 168 hours, empty hours included) and cancels per
    /// day (7 days).
    pub async fn activity(&self) -> Result<Activity, AppError> {
        const HOUR: i64 = 3_600_000;
        let now = now_ms();
        let first_hour = now - now.rem_euclid(HOUR) - 167 * HOUR;
        let mut hours: Vec<HourCounts> = (0..168)
            .map(|i| HourCounts {
                hour_ms: first_hour + i * HOUR,
                ..HourCounts::default()
            })
            .collect();
        for (hour_ms, result, n) in self.store.access_hours(first_hour).await? {
            let Some(h) = usize::try_from((hour_ms - first_hour) / HOUR)
                .ok()
                .and_then(|i| hours.get_mut(i))
            else {
                continue;
            };
            match result.as_str() {
                "served" | "not_modified" | "redirected" => h.served += n,
                "access_revoked" => h.refused += n,
                "link_expired" => h.expired += n,
                _ => h.other += n,
            }
        }
        let first_day = now - now.rem_euclid(24 * HOUR) - 6 * 24 * HOUR;
        let mut cancels: Vec<(i64, i64)> = (0..7).map(|d| (first_day + d * 24 * HOUR, 0)).collect();
        for at in self.store.cancel_times(first_day).await? {
            if let Some(day) = usize::try_from((at - first_day) / (24 * HOUR))
                .ok()
                .and_then(|i| cancels.get_mut(i))
            {
                day.1 += 1;
            }
        }
        Ok(Activity { hours, cancels })
    }

    pub async fn overview(&self) -> Result<Overview, AppError> {
        let day_ago = now_ms() - 24 * 3_600_000;
        // The hour bucket that contains `day_ago` counts whole.
        let since = day_ago - day_ago.rem_euclid(3_600_000);
        Ok(Overview {
            lines_by_status: self.store.lines_by_status().await?.into_iter().collect(),
            accesses_24h: self
                .store
                .accesses_since(since)
                .await?
                .into_iter()
                .collect(),
            revocation_store_kind: self.revocations.kind(),
            revocation_store_state: self.revocations.state().await,
            revocation_outbox: self.store.outbox_depth().await?,
            fulfilment_queue: self.store.fulfilment_queue().await?,
            webhooks_failing: self.store.failing_webhooks().await?,
            webhooks_troubled: self.troubled_webhooks().await?,
        })
    }

    /// Endpoints failing or disabled, each with its vendor's name.
    async fn troubled_webhooks(&self) -> Result<Vec<(Webhook, String)>, AppError> {
        let hooks = self.store.troubled_webhooks(20).await?;
        let names: HashMap<VendorId, String> = self
            .vendors()
            .await?
            .into_iter()
            .map(|v| (v.vendor.vendor_id, v.vendor.name))
            .collect();
        Ok(hooks
            .into_iter()
            .map(|w| {
                let name = names.get(&w.vendor_id).cloned().unwrap_or_default();
                (w, name)
            })
            .collect())
    }
}
