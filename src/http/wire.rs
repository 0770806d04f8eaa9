//! The JSON shapes of the API (SPEC §4) and of the operator CLI, built from
//! the use cases' results. Store read models never go on the wire themselves.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::app::evidence::{Evidence, reached_the_end};
use crate::app::operators::{AuditEntry, Operator, VendorSummary};
use crate::app::search::{OrderDetail, OrderSummary, Overview};
use crate::app::webhooks::DeliveryRow;
use crate::domain::{
    Actor, AdminId, AdminName, AssetId, AssetStatus, CountryCode, DeliveryState, Environment,
    EventType, FileState, LineId, LineStatus, OrderLineId, OrderNumber, Role, Sha256Digest, Stamp,
    TokenId, VendorId, VendorStatus, WebhookId, WebhookStatus, ms_to_rfc3339,
};
use crate::links::Minted;
use crate::revocation::SetState;
use crate::store::admins::AdminRecord;
use crate::store::assets::Asset;
use crate::store::events::Event;
use crate::store::tokens::TokenRecord;
use crate::store::vendors::Vendor;
use crate::store::webhooks::{Delivery, Webhook};

pub use crate::app::items::OrderItem;

/// `AssetItem`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AssetItem {
    pub asset_id: AssetId,
    pub title: String,
    pub description: Option<String>,
    pub format: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: Sha256Digest,
    pub viewable: bool,
    pub countries: Vec<CountryCode>,
    /// Sellable everywhere (no country restriction).
    pub world: bool,
    pub min_qty: i32,
    /// Always `[]`: HL's optional taxonomy, which the HL JavaScript SDK's
    /// generated validator nevertheless requires as arrays.
    pub categories: Vec<String>,
    pub keywords: Vec<String>,
    pub series: Vec<String>,
    pub skills: Vec<String>,
    /// Access policies (SPEC §12; an extension HL SDKs ignore).
    pub policies: PoliciesItem,
}

/// An asset's access policies (SPEC §12).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PoliciesItem {
    /// `none`, or `pdf`: each buyer's copy carries their name on every page.
    #[schema(value_type = String, example = "none")]
    pub stamp: Stamp,
    /// Links can be minted for this many days after fulfilment; null: always.
    pub access_days: Option<i32>,
}

impl From<Asset> for AssetItem {
    fn from(a: Asset) -> Self {
        Self {
            asset_id: a.asset_id,
            title: a.title,
            description: a.description,
            format: a.format,
            content_type: a.content_type,
            size_bytes: a.size_bytes,
            sha256: a.sha256,
            viewable: a.viewable,
            world: a.countries.is_world(),
            countries: a.countries.codes().to_vec(),
            min_qty: a.min_qty,
            categories: Vec::new(),
            keywords: Vec::new(),
            series: Vec::new(),
            skills: Vec::new(),
            policies: PoliciesItem {
                stamp: a.stamp,
                access_days: a.access_days,
            },
        }
    }
}

/// An asset as operators see it (admin API, SPEC §11): the `AssetItem`,
/// whether it is sold, what the last `storage verify` found of its file, and
/// how many lines it was sold in.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AdminAssetItem {
    #[serde(flatten)]
    pub asset: AssetItem,
    pub status: AssetStatus,
    pub file: FileState,
    /// When `storage verify` (or the upload) last checked the file.
    pub file_checked_at: Option<String>,
    /// The name a download is saved under.
    pub file_name: String,
    pub created_at: String,
    pub lines: i64,
}

impl AdminAssetItem {
    pub fn new(asset: Asset, lines: i64) -> Self {
        Self {
            status: asset.status,
            file: asset.file_state,
            file_checked_at: asset.file_checked_at_ms.map(ms_to_rfc3339),
            file_name: asset.file_name.clone(),
            created_at: ms_to_rfc3339(asset.created_at_ms),
            lines,
            asset: asset.into(),
        }
    }
}

/// A link as download-url / view-url answer it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LinkItem {
    pub url: String,
    pub expires_at: String,
}

impl From<Minted> for LinkItem {
    fn from(m: Minted) -> Self {
        Self {
            url: m.url,
            expires_at: ms_to_rfc3339(m.expires_at * 1000),
        }
    }
}

/// A vendor as the CLI (and the operators' API) show it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VendorItem {
    pub vendor_id: VendorId,
    pub name: String,
    pub status: VendorStatus,
    pub created_at: String,
}

impl From<Vendor> for VendorItem {
    fn from(v: Vendor) -> Self {
        Self {
            vendor_id: v.vendor_id,
            name: v.name,
            status: v.status,
            created_at: ms_to_rfc3339(v.created_at_ms),
        }
    }
}

/// An API token, never its secret.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenItem {
    pub token_id: TokenId,
    pub vendor_id: VendorId,
    pub environment: Environment,
    pub prefix: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

impl From<TokenRecord> for TokenItem {
    fn from(t: TokenRecord) -> Self {
        Self {
            token_id: t.token_id,
            vendor_id: t.vendor_id,
            environment: t.environment,
            prefix: t.prefix,
            created_at: ms_to_rfc3339(t.created_at_ms),
            revoked_at: t.revoked_at_ms.map(ms_to_rfc3339),
        }
    }
}

/// `OrderSummary` (SPEC §7).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderSummaryItem {
    pub vendor_id: VendorId,
    pub vendor_name: String,
    pub environment: Environment,
    pub order_id: OrderNumber,
    pub customer: String,
    pub lines: i64,
    pub statuses: BTreeMap<LineStatus, i64>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<OrderSummary> for OrderSummaryItem {
    fn from(o: OrderSummary) -> Self {
        Self {
            vendor_id: o.vendor_id,
            vendor_name: o.vendor_name,
            environment: o.environment,
            order_id: o.order_number,
            customer: o.customer,
            lines: o.lines,
            statuses: o.statuses,
            created_at: ms_to_rfc3339(o.created_at_ms),
            updated_at: ms_to_rfc3339(o.updated_at_ms),
        }
    }
}

/// A line's revocation state, as the admin API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RevocationItem {
    /// As the revocation store says right now; `null` when it cannot say.
    pub revoked: Option<bool>,
    pub pending: bool,
    pub until: Option<String>,
}

/// An `OrderItem` with its revocation state.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AdminLineItem {
    #[serde(flatten)]
    pub item: OrderItem,
    pub revocation: RevocationItem,
}

/// `Event` (SPEC §7).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventItem {
    pub at: String,
    pub kind: String,
    pub order_line_id: Option<OrderLineId>,
    pub actor: Actor,
    /// Who, for people: vendor name and token prefix, operator name, "buyer at <ip>".
    pub actor_label: String,
    pub details: serde_json::Value,
}

impl EventItem {
    /// `lines` maps internal line ids to the vendor's line numbers.
    pub fn of(e: Event, lines: &HashMap<LineId, OrderLineId>, actor_label: String) -> Self {
        let mut details = e.data;
        // Stored as `client_ip` (the CLI shows it so); operators read `ip`.
        if let Some(map) = details.as_object_mut()
            && let Some(ip) = map.remove("client_ip")
        {
            map.insert("ip".to_owned(), ip);
        }
        // A refusal's request id: the "Reference" the buyer was shown.
        if let (Some(map), Some(reference)) = (details.as_object_mut(), e.request_id) {
            map.insert("reference".to_owned(), reference.into());
        }
        Self {
            at: ms_to_rfc3339(e.at_ms),
            kind: e.kind,
            order_line_id: lines.get(&e.line_id).copied(),
            actor: e.actor,
            actor_label,
            details,
        }
    }
}

/// One order as the admin API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderDetailItem {
    pub vendor_id: VendorId,
    pub vendor_name: String,
    pub environment: Environment,
    pub order_id: OrderNumber,
    pub lines: Vec<AdminLineItem>,
    pub history: Vec<EventItem>,
    /// `history_before` for the next page of history, if there is one.
    pub history_next: Option<String>,
}

impl From<OrderDetail> for OrderDetailItem {
    fn from(d: OrderDetail) -> Self {
        let numbers: HashMap<LineId, OrderLineId> = d
            .lines
            .iter()
            .map(|(l, _)| (l.line_id, l.order_line_id))
            .collect();
        let history = d
            .history
            .iter()
            .map(|e| EventItem::of(e.clone(), &numbers, d.actor_label(e)))
            .collect();
        Self {
            vendor_id: d.order.tenant.vendor,
            vendor_name: d.vendor_name,
            environment: d.order.tenant.environment,
            order_id: d.order.order,
            lines: d
                .lines
                .into_iter()
                .map(|(line, r)| AdminLineItem {
                    item: OrderItem::of_line(line),
                    revocation: RevocationItem {
                        revoked: r.revoked,
                        pending: r.pending,
                        until: r.until_ms.map(ms_to_rfc3339),
                    },
                })
                .collect(),
            history,
            history_next: d.history_more.map(ms_to_rfc3339),
        }
    }
}

/// A vendor in the operators' list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VendorSummaryItem {
    #[serde(flatten)]
    pub vendor: VendorItem,
    /// Active (not revoked) API tokens.
    pub tokens: i64,
}

impl From<VendorSummary> for VendorSummaryItem {
    fn from(v: VendorSummary) -> Self {
        Self {
            vendor: v.vendor.into(),
            tokens: v.active_tokens,
        }
    }
}

/// The overview (SPEC §7).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OverviewItem {
    /// Order lines by status.
    pub orders_by_status: BTreeMap<LineStatus, i64>,
    pub accesses_24h: BTreeMap<&'static str, i64>,
    pub revocation_store: RevocationStoreItem,
    pub revocation_outbox: u64,
    pub fulfilment_queue: u64,
    pub webhooks_failing: u64,
    /// Endpoints failing or disabled, longest-troubled first (at most 20).
    pub webhooks_troubled: Vec<TroubledWebhookItem>,
}

/// A webhook endpoint that needs someone, with its vendor.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TroubledWebhookItem {
    pub webhook_id: WebhookId,
    pub vendor_id: VendorId,
    pub vendor_name: String,
    pub environment: Environment,
    pub url: String,
    /// `ENABLED` (failing, still retried) or `DISABLED`.
    pub status: WebhookStatus,
    /// When its deliveries started failing (RFC 3339).
    pub failing_since: Option<String>,
    pub disabled_reason: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RevocationStoreItem {
    pub kind: &'static str,
    pub state: &'static str,
}

/// Which access results the overview groups under which name.
fn access_group(result: &str) -> &'static str {
    match result {
        "served" | "not_modified" => "served",
        "access_revoked" => "revoked",
        "link_expired" => "expired",
        "link_invalid" | "not_found" => "invalid",
        "revocation_unavailable" => "unavailable",
        _ => "other",
    }
}

impl From<Overview> for OverviewItem {
    fn from(o: Overview) -> Self {
        let mut accesses: BTreeMap<&'static str, i64> =
            ["served", "revoked", "expired", "invalid", "unavailable"]
                .into_iter()
                .map(|k| (k, 0))
                .collect();
        for (result, n) in o.accesses_24h {
            *accesses.entry(access_group(&result)).or_default() += n;
        }
        Self {
            orders_by_status: o.lines_by_status,
            accesses_24h: accesses,
            revocation_store: RevocationStoreItem {
                kind: o.revocation_store_kind,
                state: match o.revocation_store_state {
                    SetState::Complete => "complete",
                    SetState::Incomplete => "rebuilding",
                    SetState::Unreachable => "unreachable",
                },
            },
            revocation_outbox: o.revocation_outbox,
            fulfilment_queue: o.fulfilment_queue,
            webhooks_failing: o.webhooks_failing,
            webhooks_troubled: o
                .webhooks_troubled
                .into_iter()
                .map(|(w, vendor_name)| TroubledWebhookItem {
                    webhook_id: w.webhook_id,
                    vendor_id: w.vendor_id,
                    vendor_name,
                    environment: w.environment,
                    url: w.url,
                    status: w.status,
                    failing_since: w.failing_since_ms.map(ms_to_rfc3339),
                    disabled_reason: w.disabled_reason,
                })
                .collect(),
        }
    }
}

/// One audit log entry.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditItem {
    pub at: String,
    /// Who: `operator:<name>` or `cli:<os user>`.
    pub actor: Actor,
    /// The operator's name, or the actor's label for a change made with the CLI.
    pub admin: String,
    pub action: String,
    pub target: String,
    pub details: serde_json::Value,
}

impl From<AuditEntry> for AuditItem {
    fn from(a: AuditEntry) -> Self {
        Self {
            at: ms_to_rfc3339(a.at_ms),
            admin: a.actor.who(),
            actor: a.actor,
            action: a.action,
            target: a.target,
            details: serde_json::from_str(&a.details).unwrap_or(serde_json::Value::Null),
        }
    }
}

/// An admin identity, never its token.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AdminItem {
    pub admin_id: AdminId,
    pub name: AdminName,
    pub role: Role,
    pub prefix: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

impl From<AdminRecord> for AdminItem {
    fn from(a: AdminRecord) -> Self {
        Self {
            admin_id: a.admin_id,
            name: a.name,
            role: a.role,
            prefix: a.display_prefix,
            created_at: ms_to_rfc3339(a.created_at_ms),
            revoked_at: a.revoked_at_ms.map(ms_to_rfc3339),
        }
    }
}

/// `GET /admin/api/me`: the calling operator.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MeItem {
    pub admin_id: AdminId,
    pub name: AdminName,
    pub role: Role,
}

impl From<&Operator> for MeItem {
    fn from(o: &Operator) -> Self {
        Self {
            admin_id: o.id,
            name: o.name.clone(),
            role: o.role,
        }
    }
}

/// A webhook endpoint, never its secret (SPEC §9).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebhookItem {
    pub webhook_id: WebhookId,
    pub url: String,
    pub events: Vec<EventType>,
    pub description: Option<String>,
    pub status: WebhookStatus,
    pub environment: Environment,
    pub created_at: String,
    /// Since when its deliveries keep failing, if they do.
    pub failing_since: Option<String>,
    pub disabled_reason: Option<String>,
}

impl From<Webhook> for WebhookItem {
    fn from(w: Webhook) -> Self {
        Self {
            webhook_id: w.webhook_id,
            url: w.url,
            events: w.events.types(),
            description: w.description,
            status: w.status,
            environment: w.environment,
            created_at: ms_to_rfc3339(w.created_at_ms),
            failing_since: w.failing_since_ms.map(ms_to_rfc3339),
            disabled_reason: w.disabled_reason,
        }
    }
}

/// One delivery of one event to one endpoint.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeliveryItem {
    pub delivery_id: i64,
    pub event_id: String,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub state: DeliveryState,
    pub attempts: i32,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    /// When it is tried next; `null` once it is over, and while it waits
    /// behind an earlier delivery (`waiting_for`). A time in the past means
    /// it is due and being sent.
    pub next_attempt_at: Option<String>,
    /// The event of the earlier delivery to this endpoint that this pending
    /// one waits behind (deliveries go out in order; `webhook.test` never waits).
    pub waiting_for: Option<String>,
    pub created_at: String,
}

impl DeliveryItem {
    /// A delivery just queued again: due now, waiting for nothing yet.
    pub fn queued(delivery: Delivery, kind: EventType) -> Self {
        Self::from(DeliveryRow {
            delivery,
            kind,
            waiting_for: None,
        })
    }
}

impl From<DeliveryRow> for DeliveryItem {
    fn from(row: DeliveryRow) -> Self {
        let d = row.delivery;
        Self {
            delivery_id: d.id,
            event_id: d.event_id,
            kind: row.kind,
            state: d.state,
            attempts: d.attempts,
            last_status: d.last_status,
            last_error: d.last_error,
            next_attempt_at: (d.state == DeliveryState::Pending && row.waiting_for.is_none())
                .then(|| ms_to_rfc3339(d.next_attempt_at_ms)),
            waiting_for: row.waiting_for,
            created_at: ms_to_rfc3339(d.created_at_ms),
        }
    }
}

/// What happened to an order's lines, for a dispute (SPEC §14).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccessLogItem {
    pub order_id: OrderNumber,
    pub environment: Environment,
    pub customer: String,
    pub lines: Vec<AccessLogLine>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccessLogLine {
    pub order_line_id: OrderLineId,
    pub asset_id: i64,
    pub asset_title: String,
    /// The size of the file its links served (a stamped line: its own copy).
    pub size_bytes: i64,
    pub status: LineStatus,
    pub canceled_at: Option<String>,
    /// Complete downloads: completed GETs that delivered the file's last byte.
    pub complete_downloads: u64,
    /// Oldest first.
    pub events: Vec<AccessLogEvent>,
}

/// One event; the access fields are null for other kinds.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccessLogEvent {
    pub at: String,
    /// `registered`, `fulfilled`, `failed`, `link_issued`, `access`, `canceled`, …
    pub kind: String,
    pub action: Option<String>,
    pub method: Option<String>,
    pub status: Option<i64>,
    pub result: Option<String>,
    pub range: Option<String>,
    pub bytes_sent: Option<i64>,
    pub completed: Option<bool>,
    /// Whether this access delivered the file to its last byte.
    pub complete_file: bool,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The rest of what was recorded (a cancel's reason, a link's expiry…).
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

impl From<&Evidence> for AccessLogItem {
    fn from(e: &Evidence) -> Self {
        Self {
            order_id: e.order.order,
            environment: e.order.tenant.environment,
            customer: e
                .lines
                .first()
                .map(|l| l.line.customer.as_str().to_owned())
                .unwrap_or_default(),
            lines: e
                .lines
                .iter()
                .map(|l| {
                    let events: Vec<AccessLogEvent> = l
                        .events
                        .iter()
                        .map(|ev| {
                            let mut details = ev.data.clone();
                            let mut take =
                                |key: &str| details.as_object_mut().and_then(|m| m.remove(key));
                            let text = |v: Option<serde_json::Value>| {
                                v.and_then(|v| v.as_str().map(str::to_owned))
                            };
                            let access = ev.kind == "access";
                            AccessLogEvent {
                                at: ms_to_rfc3339(ev.at_ms),
                                kind: ev.kind.clone(),
                                complete_file: reached_the_end(ev, l.size_bytes),
                                action: text(take("action")),
                                method: text(take("method")),
                                status: take("status").and_then(|v| v.as_i64()),
                                result: text(take("result")),
                                range: text(take("range")),
                                bytes_sent: take("bytes_sent").and_then(|v| v.as_i64()),
                                completed: take("completed")
                                    .and_then(|v| v.as_bool())
                                    .filter(|_| access),
                                ip: text(take("client_ip")),
                                user_agent: text(take("user_agent")),
                                details,
                            }
                        })
                        .collect();
                    AccessLogLine {
                        order_line_id: l.line.order_line_id,
                        asset_id: l.line.asset_id.get(),
                        asset_title: l.asset_title.clone(),
                        size_bytes: l.size_bytes,
                        status: l.line.status,
                        canceled_at: l.line.canceled_at_ms.map(ms_to_rfc3339),
                        complete_downloads: events.iter().filter(|e| e.complete_file).count()
                            as u64,
                        events,
                    }
                })
                .collect(),
        }
    }
}
