//! Webhooks: endpoints, the event outbox and its deliveries. Events are
//! written by the transaction of the change they report (see
//! `Store::cancel_lines` and `Store::finish_fulfilment`), fanned out there
//! to every enabled endpoint of the tenant that wants them.

use sea_orm::{
    ActiveModelTrait as _,
    ActiveValue::NotSet,
    ActiveValue::Set,
    ColumnTrait as _, Condition, ConnectionTrait, EntityTrait as _, QueryFilter as _,
    QueryOrder as _, QuerySelect as _,
    sea_query::{Alias, Expr, ExprTrait as _, Order, Query},
};

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use super::entities::{webhook_attempts, webhook_deliveries, webhook_events, webhooks};
use super::{Op as _, Store, StoreError};
use crate::domain::{
    DeliveryState, EventFilter, EventType, LineId, Tenant, WebhookId, WebhookStatus, now_ms,
};

pub use super::entities::webhook_deliveries::Model as Delivery;
pub use super::entities::webhooks::Model as Webhook;

/// An event to record with the change it reports.
#[derive(Clone, Debug)]
pub struct NewWebhookEvent {
    pub tenant: Tenant,
    /// The line it reports (none for `webhook.test`).
    pub line: Option<LineId>,
    pub kind: EventType,
    /// The exact JSON body to send.
    pub payload: String,
}

/// A new endpoint.
pub struct NewWebhook {
    pub tenant: Tenant,
    pub url: String,
    pub events: EventFilter,
    pub description: Option<String>,
    pub secret: String,
}

/// A delivery claimed by this instance, with what it needs to send.
#[derive(Clone, Debug)]
pub struct Claimed {
    pub delivery: Delivery,
    pub webhook: Webhook,
    pub event_id: String,
    pub payload: String,
}

/// How one attempt ended.
#[derive(Clone, Debug)]
pub struct AttemptOutcome {
    pub status: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// A fresh `msg_…` id (Standard Webhooks: the same on every retry).
pub fn event_id() -> String {
    format!("msg_{}", uuid::Uuid::new_v4().simple())
}

/// Records `events` and a pending delivery for every enabled endpoint of their
/// tenant that wants them — on `conn`, so inside the caller's transaction.
/// One endpoint query per tenant and batched inserts: a 500-line batch cancel
/// costs a handful of statements, not 1,500. Returns the id of each recorded
/// event by the line it reports (an event no endpoint wants is not recorded).
pub(super) async fn enqueue<C: ConnectionTrait>(
    conn: &C,
    events: Vec<NewWebhookEvent>,
    only: Option<WebhookId>,
) -> Result<HashMap<LineId, String>, StoreError> {
    /// Rows per INSERT (12 columns × 1,000 stays far below PostgreSQL's 65,535 parameters).
    const CHUNK: usize = 1_000;
    let op = "recording webhook events";
    let now = now_ms();
    let mut endpoints_of: HashMap<Tenant, Vec<Webhook>> = HashMap::new();
    let mut event_rows = Vec::new();
    let mut delivery_rows = Vec::new();
    let mut ids = HashMap::new();
    for event in events {
        let endpoints = match endpoints_of.entry(event.tenant) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                let mut q = webhooks::Entity::find()
                    .filter(webhooks::Column::VendorId.eq(event.tenant.vendor))
                    .filter(webhooks::Column::Environment.eq(event.tenant.environment))
                    .filter(webhooks::Column::Status.eq(WebhookStatus::Enabled));
                if let Some(id) = only {
                    q = q.filter(webhooks::Column::WebhookId.eq(id));
                }
                e.insert(q.all(conn).await.op(op)?)
            }
        };
        let targets: Vec<WebhookId> = endpoints
            .iter()
            .filter(|w| only.is_some() || w.events.wants(event.kind))
            .map(|w| w.webhook_id)
            .collect();
        if targets.is_empty() {
            continue;
        }
        let id = event_id();
        if let Some(line) = event.line {
            ids.insert(line, id.clone());
        }
        delivery_rows.extend(
            targets
                .into_iter()
                .map(|webhook| webhook_deliveries::ActiveModel {
                    id: NotSet,
                    event_id: Set(id.clone()),
                    webhook_id: Set(webhook),
                    state: Set(DeliveryState::Pending),
                    attempts: Set(0),
                    next_attempt_at_ms: Set(now),
                    last_status: Set(None),
                    last_error: Set(None),
                    created_at_ms: Set(now),
                    finished_at_ms: Set(None),
                    ordered: Set(event.kind != EventType::Test),
                }),
        );
        event_rows.push(webhook_events::ActiveModel {
            id: Set(id),
            vendor_id: Set(event.tenant.vendor),
            environment: Set(event.tenant.environment),
            kind: Set(event.kind),
            payload: Set(event.payload),
            created_at_ms: Set(now),
        });
    }
    // Events first: deliveries reference them.
    for chunk in event_rows.chunks(CHUNK) {
        webhook_events::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(conn)
            .await
            .op(op)?;
    }
    for chunk in delivery_rows.chunks(CHUNK) {
        webhook_deliveries::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(conn)
            .await
            .op(op)?;
    }
    Ok(ids)
}

impl Store {
    pub async fn create_webhook(&self, new: NewWebhook) -> Result<Webhook, StoreError> {
        webhooks::ActiveModel {
            webhook_id: Set(WebhookId::new()),
            lease_until_ms: Set(None),
            leased_by: Set(None),
            vendor_id: Set(new.tenant.vendor),
            environment: Set(new.tenant.environment),
            url: Set(new.url),
            events: Set(new.events),
            description: Set(new.description),
            secret: Set(crate::domain::secrets::Hidden::new(new.secret)),
            status: Set(WebhookStatus::Enabled),
            created_at_ms: Set(now_ms()),
            failing_since_ms: Set(None),
            disabled_reason: Set(None),
        }
        .insert(self.conn())
        .await
        .op("creating a webhook endpoint")
    }

    /// The tenant's endpoints (not deleted), oldest first.
    pub async fn webhooks(&self, tenant: Tenant) -> Result<Vec<Webhook>, StoreError> {
        self.endpoints(tenant.vendor, Some(tenant.environment))
            .await
    }

    /// Every endpoint (not deleted) of a vendor, both environments.
    pub async fn vendor_webhooks(
        &self,
        vendor: crate::domain::VendorId,
    ) -> Result<Vec<Webhook>, StoreError> {
        self.endpoints(vendor, None).await
    }

    async fn endpoints(
        &self,
        vendor: crate::domain::VendorId,
        environment: Option<crate::domain::Environment>,
    ) -> Result<Vec<Webhook>, StoreError> {
        let mut q = webhooks::Entity::find()
            .filter(webhooks::Column::VendorId.eq(vendor))
            .filter(webhooks::Column::Status.ne(WebhookStatus::Deleted));
        if let Some(environment) = environment {
            q = q.filter(webhooks::Column::Environment.eq(environment));
        }
        q.order_by_asc(webhooks::Column::CreatedAtMs)
            .all(self.conn())
            .await
            .op("listing webhook endpoints")
    }

    /// One endpoint (not deleted); `tenant` limits it to its owner when given.
    pub async fn webhook(
        &self,
        id: WebhookId,
        tenant: Option<Tenant>,
    ) -> Result<Option<Webhook>, StoreError> {
        let mut q = webhooks::Entity::find_by_id(id)
            .filter(webhooks::Column::Status.ne(WebhookStatus::Deleted));
        if let Some(t) = tenant {
            q = q
                .filter(webhooks::Column::VendorId.eq(t.vendor))
                .filter(webhooks::Column::Environment.eq(t.environment));
        }
        q.one(self.conn()).await.op("loading a webhook endpoint")
    }

    /// Disables (410, or failing too long) or deletes an endpoint; its pending
    /// deliveries end as failed with `why`.
    pub async fn stop_webhook(
        &self,
        id: WebhookId,
        status: WebhookStatus,
        why: &str,
    ) -> Result<(), StoreError> {
        let op = "stopping a webhook endpoint";
        let mut stop =
            webhooks::Entity::update_many().col_expr(webhooks::Column::Status, Expr::value(status));
        if status == WebhookStatus::Deleted {
            // Nothing is signed for a deleted endpoint again: keep no secret.
            stop = stop.col_expr(webhooks::Column::Secret, Expr::value(""));
        }
        stop.col_expr(webhooks::Column::DisabledReason, Expr::value(why))
            .filter(webhooks::Column::WebhookId.eq(id))
            .exec(self.conn())
            .await
            .op(op)?;
        webhook_deliveries::Entity::update_many()
            .col_expr(
                webhook_deliveries::Column::State,
                Expr::value(DeliveryState::Failed),
            )
            .col_expr(webhook_deliveries::Column::LastError, Expr::value(why))
            .col_expr(
                webhook_deliveries::Column::FinishedAtMs,
                Expr::value(now_ms()),
            )
            .filter(webhook_deliveries::Column::WebhookId.eq(id))
            .filter(webhook_deliveries::Column::State.eq(DeliveryState::Pending))
            .exec(self.conn())
            .await
            .op(op)
            .map(|_| ())
    }

    /// Sends a test event to one endpoint.
    pub async fn enqueue_test(
        &self,
        event: NewWebhookEvent,
        to: WebhookId,
    ) -> Result<(), StoreError> {
        enqueue(self.conn(), vec![event], Some(to)).await.map(drop)
    }

    /// An endpoint's deliveries, newest first, before delivery `before`.
    pub async fn deliveries(
        &self,
        webhook: WebhookId,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Vec<(Delivery, EventType)>, StoreError> {
        let op = "listing webhook deliveries";
        let mut q = webhook_deliveries::Entity::find()
            .filter(webhook_deliveries::Column::WebhookId.eq(webhook));
        if let Some(before) = before {
            q = q.filter(webhook_deliveries::Column::Id.lt(before));
        }
        let rows = q
            .order_by_desc(webhook_deliveries::Column::Id)
            .limit(limit)
            .all(self.conn())
            .await
            .op(op)?;
        let ids: Vec<String> = rows.iter().map(|d| d.event_id.clone()).collect();
        let kinds: std::collections::HashMap<String, EventType> = webhook_events::Entity::find()
            .select_only()
            .column(webhook_events::Column::Id)
            .column(webhook_events::Column::Kind)
            .filter(webhook_events::Column::Id.is_in(ids))
            .into_tuple::<(String, EventType)>()
            .all(self.conn())
            .await
            .op(op)?
            .into_iter()
            .collect();
        Ok(rows
            .into_iter()
            .map(|d| {
                let kind = kinds.get(&d.event_id).copied().unwrap_or(EventType::Test);
                (d, kind)
            })
            .collect())
    }

    /// The delivery of event `event_id` to endpoint `webhook`, with its kind.
    pub async fn delivery_of_event(
        &self,
        webhook: WebhookId,
        event_id: &str,
    ) -> Result<Option<(Delivery, EventType)>, StoreError> {
        let op = "loading a webhook delivery by event";
        let Some(delivery) = webhook_deliveries::Entity::find()
            .filter(webhook_deliveries::Column::WebhookId.eq(webhook))
            .filter(webhook_deliveries::Column::EventId.eq(event_id))
            .one(self.conn())
            .await
            .op(op)?
        else {
            return Ok(None);
        };
        let kind = webhook_events::Entity::find_by_id(delivery.event_id.clone())
            .one(self.conn())
            .await
            .op(op)?
            .map_or(EventType::Test, |e| e.kind);
        Ok(Some((delivery, kind)))
    }

    /// The deliveries of these events, with the URL of their endpoint.
    pub async fn deliveries_of_events(
        &self,
        events: &[String],
    ) -> Result<Vec<(Delivery, String)>, StoreError> {
        let op = "loading the deliveries of events";
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let rows = webhook_deliveries::Entity::find()
            .filter(webhook_deliveries::Column::EventId.is_in(events.to_vec()))
            .order_by_asc(webhook_deliveries::Column::Id)
            .all(self.conn())
            .await
            .op(op)?;
        let mut ids: Vec<WebhookId> = rows.iter().map(|d| d.webhook_id).collect();
        ids.sort_unstable_by_key(ToString::to_string);
        ids.dedup();
        let urls: HashMap<WebhookId, String> = webhooks::Entity::find()
            .filter(webhooks::Column::WebhookId.is_in(ids))
            .all(self.conn())
            .await
            .op(op)?
            .into_iter()
            .map(|w| (w.webhook_id, w.url))
            .collect();
        Ok(rows
            .into_iter()
            .map(|d| {
                let url = urls.get(&d.webhook_id).cloned().unwrap_or_default();
                (d, url)
            })
            .collect())
    }

    /// One delivery.
    pub async fn delivery(&self, id: i64) -> Result<Option<Delivery>, StoreError> {
        webhook_deliveries::Entity::find_by_id(id)
            .one(self.conn())
            .await
            .op("loading a webhook delivery")
    }

    /// Enables a disabled endpoint again, with a clean record of failures.
    pub async fn enable_webhook(&self, id: WebhookId) -> Result<(), StoreError> {
        webhooks::Entity::update_many()
            .col_expr(
                webhooks::Column::Status,
                Expr::value(WebhookStatus::Enabled),
            )
            .col_expr(
                webhooks::Column::DisabledReason,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                webhooks::Column::FailingSinceMs,
                Expr::value(Option::<i64>::None),
            )
            .col_expr(
                webhooks::Column::LeaseUntilMs,
                Expr::value(Option::<i64>::None),
            )
            .col_expr(
                webhooks::Column::LeasedBy,
                Expr::value(Option::<String>::None),
            )
            .filter(webhooks::Column::WebhookId.eq(id))
            .filter(webhooks::Column::Status.eq(WebhookStatus::Disabled))
            .exec(self.conn())
            .await
            .op("enabling a webhook endpoint")
            .map(|_| ())
    }

    /// Sends a delivery again (an operator's redeliver): pending, due now.
    pub async fn redeliver(&self, delivery: i64) -> Result<Option<Delivery>, StoreError> {
        let op = "redelivering a webhook";
        webhook_deliveries::Entity::update_many()
            .col_expr(
                webhook_deliveries::Column::State,
                Expr::value(DeliveryState::Pending),
            )
            .col_expr(
                webhook_deliveries::Column::NextAttemptAtMs,
                Expr::value(now_ms()),
            )
            .col_expr(
                webhook_deliveries::Column::FinishedAtMs,
                Expr::value(Option::<i64>::None),
            )
            .filter(webhook_deliveries::Column::Id.eq(delivery))
            .exec(self.conn())
            .await
            .op(op)?;
        webhook_deliveries::Entity::find_by_id(delivery)
            .one(self.conn())
            .await
            .op(op)
    }

    /// Leases up to `limit` endpoints whose first pending delivery is due and
    /// that no live instance holds: the holder sends that endpoint's
    /// deliveries one after another, in order. One index probe per endpoint
    /// (`ix_webhook_deliveries_queue`), however long its backlog.
    pub async fn claim_endpoints(
        &self,
        instance: &str,
        lease_ms: i64,
        limit: u64,
    ) -> Result<Vec<Webhook>, StoreError> {
        use webhook_deliveries::Column as D;
        use webhooks::Column as W;
        let op = "claiming webhook endpoints";
        let now = now_ms();
        let free = || {
            Condition::all()
                .add(W::Status.eq(WebhookStatus::Enabled))
                .add(
                    Condition::any()
                        .add(W::LeaseUntilMs.is_null())
                        .add(W::LeaseUntilMs.lt(now)),
                )
        };
        // (SELECT next_attempt_at_ms FROM webhook_deliveries d WHERE d.webhook_id
        //  = webhooks.id AND d.state = 'pending' AND d.ordered ORDER BY d.id
        //  LIMIT 1) <= now, or a test delivery (unordered) is due.
        let d = Alias::new("d");
        let mut head = Query::select();
        head.column((d.clone(), D::NextAttemptAtMs))
            .from_as(webhook_deliveries::Entity, d.clone())
            .and_where(
                Expr::col((d.clone(), D::WebhookId)).equals((webhooks::Entity, W::WebhookId)),
            )
            .and_where(Expr::col((d.clone(), D::State)).eq(DeliveryState::Pending))
            .and_where(Expr::col((d.clone(), D::Ordered)).eq(true))
            .order_by((d.clone(), D::Id), Order::Asc)
            .limit(1);
        let head_due = Expr::SubQuery(None, Box::new(head.into())).lte(now);
        let mut test = Query::select();
        test.expr(Expr::val(1))
            .from_as(webhook_deliveries::Entity, d.clone())
            .and_where(
                Expr::col((d.clone(), D::WebhookId)).equals((webhooks::Entity, W::WebhookId)),
            )
            .and_where(Expr::col((d.clone(), D::State)).eq(DeliveryState::Pending))
            .and_where(Expr::col((d.clone(), D::Ordered)).eq(false))
            .and_where(Expr::col((d, D::NextAttemptAtMs)).lte(now));
        let test_due = Expr::exists(test);
        let candidates = webhooks::Entity::find()
            .filter(free())
            .filter(Condition::any().add(head_due).add(test_due))
            .limit(limit)
            .all(self.conn())
            .await
            .op(op)?;
        let mut claimed = Vec::new();
        for w in candidates {
            let res = webhooks::Entity::update_many()
                .col_expr(W::LeaseUntilMs, Expr::value(now + lease_ms))
                .col_expr(W::LeasedBy, Expr::value(instance))
                .filter(W::WebhookId.eq(w.webhook_id))
                .filter(free())
                .exec(self.conn())
                .await
                .op(op)?;
            if res.rows_affected == 1 {
                claimed.push(w);
            }
        }
        Ok(claimed)
    }

    /// Extends this instance's lease of an endpoint and returns the endpoint
    /// as it is now; `None` if the lease was lost (it ran out and another
    /// instance took it) or the endpoint is no longer enabled.
    pub async fn renew_endpoint(
        &self,
        id: WebhookId,
        instance: &str,
        lease_ms: i64,
    ) -> Result<Option<Webhook>, StoreError> {
        use webhooks::Column as W;
        let op = "renewing a webhook endpoint lease";
        let res = webhooks::Entity::update_many()
            .col_expr(W::LeaseUntilMs, Expr::value(now_ms() + lease_ms))
            .filter(W::WebhookId.eq(id))
            .filter(W::LeasedBy.eq(instance))
            .filter(W::Status.eq(WebhookStatus::Enabled))
            .exec(self.conn())
            .await
            .op(op)?;
        if res.rows_affected != 1 {
            return Ok(None);
        }
        webhooks::Entity::find_by_id(id)
            .one(self.conn())
            .await
            .op(op)
    }

    /// The endpoint's first pending ordered delivery (the one every later
    /// ordered delivery waits behind), due or not.
    pub async fn queue_head(&self, webhook: WebhookId) -> Result<Option<Delivery>, StoreError> {
        use webhook_deliveries::Column as D;
        webhook_deliveries::Entity::find()
            .filter(D::WebhookId.eq(webhook))
            .filter(D::State.eq(DeliveryState::Pending))
            .filter(D::Ordered.eq(true))
            .order_by_asc(D::Id)
            .one(self.conn())
            .await
            .op("loading a webhook endpoint's queue head")
    }

    /// What the endpoint sends next, if anything is due now: a due test
    /// delivery (tests never wait), else the first pending ordered delivery
    /// (one waiting for its retry holds back the ordered ones after it).
    pub async fn next_delivery(&self, webhook: &Webhook) -> Result<Option<Claimed>, StoreError> {
        use webhook_deliveries::Column as D;
        let op = "loading the next webhook delivery";
        let now = now_ms();
        let test = webhook_deliveries::Entity::find()
            .filter(D::WebhookId.eq(webhook.webhook_id))
            .filter(D::State.eq(DeliveryState::Pending))
            .filter(D::Ordered.eq(false))
            .filter(D::NextAttemptAtMs.lte(now))
            .order_by_asc(D::Id)
            .one(self.conn())
            .await
            .op(op)?;
        let head = match test {
            Some(test) => test,
            None => match self.queue_head(webhook.webhook_id).await? {
                Some(head) if head.next_attempt_at_ms <= now => head,
                _ => return Ok(None),
            },
        };
        let Some(event) = webhook_events::Entity::find_by_id(head.event_id.clone())
            .one(self.conn())
            .await
            .op(op)?
        else {
            return Err(StoreError::Corrupt {
                op,
                detail: format!("webhook delivery {} names a missing event", head.id),
            });
        };
        Ok(Some(Claimed {
            event_id: event.id,
            payload: event.payload,
            delivery: head,
            webhook: webhook.clone(),
        }))
    }

    /// Gives up this instance's lease of an endpoint.
    pub async fn release_endpoint(&self, id: WebhookId, instance: &str) -> Result<(), StoreError> {
        self.release(Some(id), instance, "releasing a webhook endpoint")
            .await
    }

    /// Gives up this instance's leases: of one endpoint, or of all it holds.
    async fn release(
        &self,
        id: Option<WebhookId>,
        instance: &str,
        op: &'static str,
    ) -> Result<(), StoreError> {
        let mut release = webhooks::Entity::update_many()
            .col_expr(
                webhooks::Column::LeaseUntilMs,
                Expr::value(Option::<i64>::None),
            )
            .col_expr(
                webhooks::Column::LeasedBy,
                Expr::value(Option::<String>::None),
            )
            .filter(webhooks::Column::LeasedBy.eq(instance));
        if let Some(id) = id {
            release = release.filter(webhooks::Column::WebhookId.eq(id));
        }
        release.exec(self.conn()).await.op(op).map(|_| ())
    }

    /// Records an attempt and where the delivery goes next: `next_attempt_at`
    /// `None` ends it (delivered if the attempt succeeded, failed otherwise).
    pub async fn record_attempt(
        &self,
        delivery: &Delivery,
        outcome: &AttemptOutcome,
        delivered: bool,
        next_attempt_at: Option<i64>,
    ) -> Result<(), StoreError> {
        use webhook_deliveries::Column as D;
        let op = "recording a webhook attempt";
        let now = now_ms();
        webhook_attempts::ActiveModel {
            id: NotSet,
            delivery_id: Set(delivery.id),
            at_ms: Set(now),
            status: Set(outcome.status.map(i32::from)),
            error: Set(outcome.error.clone()),
            duration_ms: Set(outcome.duration_ms),
        }
        .insert(self.conn())
        .await
        .op(op)?;
        let state = match (delivered, next_attempt_at) {
            (true, _) => DeliveryState::Delivered,
            (false, Some(_)) => DeliveryState::Pending,
            (false, None) => DeliveryState::Failed,
        };
        webhook_deliveries::Entity::update_many()
            .col_expr(D::State, Expr::value(state))
            .col_expr(D::Attempts, Expr::col(D::Attempts).add(1))
            .col_expr(D::LastStatus, Expr::value(outcome.status.map(i32::from)))
            .col_expr(D::LastError, Expr::value(outcome.error.clone()))
            .col_expr(
                D::NextAttemptAtMs,
                Expr::value(next_attempt_at.unwrap_or(now)),
            )
            .col_expr(
                D::FinishedAtMs,
                Expr::value(next_attempt_at.is_none().then_some(now)),
            )
            .filter(D::Id.eq(delivery.id))
            .filter(D::State.eq(DeliveryState::Pending))
            .exec(self.conn())
            .await
            .op(op)?;
        // The endpoint's health: failing since its first failure in a row.
        let failing = if delivered {
            Expr::value(Option::<i64>::None)
        } else {
            Expr::col(webhooks::Column::FailingSinceMs).if_null(now)
        };
        webhooks::Entity::update_many()
            .col_expr(webhooks::Column::FailingSinceMs, failing)
            .filter(webhooks::Column::WebhookId.eq(delivery.webhook_id))
            .exec(self.conn())
            .await
            .op(op)
            .map(|_| ())
    }

    /// Gives up every endpoint lease this instance holds (shutdown): another
    /// instance takes them over at once instead of after the lease.
    pub async fn release_endpoints(&self, instance: &str) -> Result<(), StoreError> {
        self.release(None, instance, "releasing webhook endpoints")
            .await
    }

    /// Endpoints failing (their last delivery attempts failed) right now.
    /// Endpoints that need someone: enabled but failing, or disabled by
    /// their failures (a 410, or failing too long); longest-troubled first.
    pub async fn troubled_webhooks(&self, limit: u64) -> Result<Vec<Webhook>, StoreError> {
        webhooks::Entity::find()
            .filter(
                Condition::any()
                    .add(
                        Condition::all()
                            .add(webhooks::Column::Status.eq(WebhookStatus::Enabled))
                            .add(webhooks::Column::FailingSinceMs.is_not_null()),
                    )
                    .add(webhooks::Column::Status.eq(WebhookStatus::Disabled)),
            )
            .order_by_asc(webhooks::Column::FailingSinceMs)
            .order_by_asc(webhooks::Column::CreatedAtMs)
            .limit(limit)
            .all(self.conn())
            .await
            .op("listing failing webhooks")
    }

    pub async fn failing_webhooks(&self) -> Result<u64, StoreError> {
        let n: Option<i64> = webhooks::Entity::find()
            .select_only()
            .column_as(Expr::cust("COUNT(*)"), "n")
            .filter(webhooks::Column::Status.eq(WebhookStatus::Enabled))
            .filter(webhooks::Column::FailingSinceMs.is_not_null())
            .into_tuple()
            .one(self.conn())
            .await
            .op("counting failing webhooks")?;
        Ok(n.map_or(0, |n| u64::try_from(n).unwrap_or(0)))
    }
}
