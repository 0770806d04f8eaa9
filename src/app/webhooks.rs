//! Webhooks as use cases: a vendor's endpoints (with the URL rules of SPEC
//! §9), the event each change of a line emits (recorded by the change's own
//! transaction), and the delivery worker.

use std::time::Duration;

use rand::Rng as _;
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::json;

use super::operators::{Auditor, Operator};
use super::worker::{Job, Pass, Wake};
use super::{App, AppError};
use crate::domain::{
    DeliveryState, EventFilter, EventType, Role, Tenant, VendorId, WebhookId, WebhookStatus,
    ms_to_rfc3339, now_ms,
};
use crate::store::orders::OrderLine;
use crate::store::webhooks::{Claimed, Delivery, NewWebhook, NewWebhookEvent, Webhook};
use crate::webhooks::Sender;
use crate::webhooks::signature::generate_secret;
use crate::webhooks::target::Policy;

/// Deliveries one instance has in flight at most.
const IN_FLIGHT: usize = 64;

/// How deliveries are tried (from `[webhooks]`).
#[derive(Clone, Debug)]
pub struct WebhookRules {
    pub policy: Policy,
    /// Delays before the 2nd, 3rd, … attempt; after the last, the delivery fails.
    pub retry_schedule: Vec<Duration>,
    /// An endpoint failing this long without a success is disabled.
    pub disable_after: Duration,
    /// Endpoints one vendor may have (not counting deleted ones).
    pub max_endpoints: u32,
}

/// A new endpoint and its secret (shown once).
pub struct CreatedWebhook {
    pub webhook: Webhook,
    pub secret: SecretString,
}

/// A delivery as its endpoint's page shows it.
pub struct DeliveryRow {
    pub delivery: Delivery,
    pub kind: EventType,
    /// The event of the earlier delivery this pending one waits behind
    /// (deliveries go out in order; tests never wait).
    pub waiting_for: Option<String>,
}

/// The webhook event `kind` of `line`, as it is now: `{type, timestamp,
/// environment, data: OrderItem}` (links null; a cancel says who canceled).
pub fn line_event(kind: EventType, line: &OrderLine) -> NewWebhookEvent {
    let data = serde_json::to_value(super::items::OrderItem::of_line(line.clone()))
        .unwrap_or_else(|_| json!({}));
    NewWebhookEvent {
        tenant: Tenant {
            vendor: line.vendor_id,
            environment: line.environment,
        },
        line: Some(line.line_id),
        kind,
        payload: json!({
            "type": kind,
            "timestamp": ms_to_rfc3339(now_ms()),
            "environment": line.environment,
            "data": data,
        })
        .to_string(),
    }
}

impl App {
    /// Registers an endpoint for the tenant, if its URL may receive webhooks.
    pub async fn create_webhook(
        &self,
        tenant: Tenant,
        url: &str,
        events: EventFilter,
        description: Option<String>,
    ) -> Result<CreatedWebhook, AppError> {
        let url = self
            .webhook_rules
            .policy
            .check(url)
            .await
            .map_err(|e| AppError::WebhookUrlNotAllowed(e.to_string()))?;
        let limit = self.webhook_rules.max_endpoints;
        let existing = self.store.vendor_webhooks(tenant.vendor).await?.len();
        if existing >= usize::try_from(limit).unwrap_or(usize::MAX) {
            return Err(AppError::WebhookLimitReached { limit });
        }
        let secret = generate_secret();
        let webhook = self
            .store
            .create_webhook(NewWebhook {
                tenant,
                url: url.to_string(),
                events,
                description,
                secret: secret.expose_secret().to_owned(),
            })
            .await?;
        Ok(CreatedWebhook { webhook, secret })
    }

    pub async fn webhooks(&self, tenant: Tenant) -> Result<Vec<Webhook>, AppError> {
        Ok(self.store.webhooks(tenant).await?)
    }

    /// One of the tenant's endpoints (`None`: any tenant's, for operators).
    pub async fn webhook(
        &self,
        id: WebhookId,
        tenant: Option<Tenant>,
    ) -> Result<Webhook, AppError> {
        self.store
            .webhook(id, tenant)
            .await?
            .ok_or(AppError::WebhookNotFound(id))
    }

    /// Deletes an endpoint; its pending deliveries stop.
    pub async fn delete_webhook(&self, tenant: Tenant, id: WebhookId) -> Result<(), AppError> {
        self.webhook(id, Some(tenant)).await?;
        Ok(self
            .store
            .stop_webhook(id, WebhookStatus::Deleted, "the endpoint was deleted")
            .await?)
    }

    /// Sends a `webhook.test` event to the endpoint.
    pub async fn test_webhook(&self, tenant: Tenant, id: WebhookId) -> Result<(), AppError> {
        let webhook = self.webhook(id, Some(tenant)).await?;
        let payload = json!({
            "type": EventType::Test,
            "timestamp": ms_to_rfc3339(now_ms()),
            "environment": tenant.environment,
            "data": {"webhook_id": webhook.webhook_id, "url": webhook.url},
        });
        self.store
            .enqueue_test(
                NewWebhookEvent {
                    tenant,
                    line: None,
                    kind: EventType::Test,
                    payload: payload.to_string(),
                },
                id,
            )
            .await?;
        self.deliveries.wake();
        Ok(())
    }

    /// An endpoint's deliveries, newest first (`tenant`: only its own).
    pub async fn webhook_deliveries(
        &self,
        id: WebhookId,
        tenant: Option<Tenant>,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Vec<DeliveryRow>, AppError> {
        self.webhook(id, tenant).await?;
        let rows = self.store.deliveries(id, before, limit).await?;
        let head = self.store.queue_head(id).await?;
        Ok(rows
            .into_iter()
            .map(|(delivery, kind)| DeliveryRow {
                waiting_for: head
                    .as_ref()
                    .filter(|h| {
                        delivery.ordered
                            && delivery.state == DeliveryState::Pending
                            && h.id < delivery.id
                    })
                    .map(|h| h.event_id.clone()),
                delivery,
                kind,
            })
            .collect())
    }

    /// Every endpoint of a vendor (operators).
    pub async fn vendor_webhooks(&self, vendor: VendorId) -> Result<Vec<Webhook>, AppError> {
        self.vendor(vendor).await?;
        Ok(self.store.vendor_webhooks(vendor).await?)
    }

    /// Sends a delivery again, now (operators). An endpoint disabled by 410
    /// or by failing too long is enabled again: the operator redelivers
    /// because it works now. A deleted endpoint's deliveries are gone.
    pub async fn redeliver(&self, operator: &Operator, id: i64) -> Result<Delivery, AppError> {
        let by = Auditor::from(operator);
        by.permit(Role::Admin, "redeliver webhooks")?;
        let (delivery, reenabled) = self.requeue(id).await?;
        self.audit(
            &by,
            "webhook_redeliver",
            format!("delivery {id}"),
            json!({
                "webhook_id": delivery.webhook_id,
                "event_id": delivery.event_id,
                "reenabled": reenabled,
            }),
        )
        .await;
        Ok(delivery)
    }

    /// A vendor's retry of one event on one of its endpoints (SPEC §9
    /// extension): the delivery is queued again, due now, like an operator's
    /// redeliver (a disabled endpoint is enabled again).
    pub async fn retry_delivery(
        &self,
        tenant: Tenant,
        webhook: WebhookId,
        event_id: &str,
    ) -> Result<(Delivery, EventType), AppError> {
        self.webhook(webhook, Some(tenant)).await?;
        let found = self
            .store
            .delivery_of_event(webhook, event_id)
            .await?
            .ok_or_else(|| AppError::EventNotFound(event_id.chars().take(100).collect()))?;
        let (delivery, _) = self.requeue(found.0.id).await?;
        Ok((delivery, found.1))
    }

    /// Queues a delivery again, due now; enables its endpoint again if it
    /// was disabled. Returns the delivery and whether it enabled the endpoint.
    async fn requeue(&self, id: i64) -> Result<(Delivery, bool), AppError> {
        let queued = self
            .store
            .delivery(id)
            .await?
            .ok_or(AppError::DeliveryNotFound(id))?;
        let webhook = self
            .store
            .webhook(queued.webhook_id, None)
            .await?
            .ok_or(AppError::DeliveryNotFound(id))?;
        let reenabled = webhook.status == WebhookStatus::Disabled;
        if reenabled {
            self.store.enable_webhook(webhook.webhook_id).await?;
        }
        let delivery = self
            .store
            .redeliver(id)
            .await?
            .ok_or(AppError::DeliveryNotFound(id))?;
        self.deliveries.wake();
        Ok((delivery, reenabled))
    }

    /// The wake-up handle of the delivery worker (a change with events pulls it).
    pub fn deliveries_wake(&self) -> Wake {
        self.deliveries.clone()
    }

    /// What happens after one attempt: delivered, retried later, or over.
    async fn settle(&self, c: &Claimed, outcome: crate::store::webhooks::AttemptOutcome) {
        let rules = &self.webhook_rules;
        let delivered = outcome.status.is_some_and(|s| (200..300).contains(&s));
        let gone = outcome.status == Some(410);
        let next = (!delivered && !gone)
            .then(|| {
                let attempt = usize::try_from(c.delivery.attempts).unwrap_or(usize::MAX);
                rules.retry_schedule.get(attempt).map(|delay| {
                    // ±10 % so that retries of many deliveries spread out.
                    let ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2);
                    let jitter = rand::rng().random_range(-(ms / 10)..=(ms / 10));
                    now_ms() + ms + jitter
                })
            })
            .flatten();
        let id = c.delivery.id;
        if let Err(e) = self
            .store
            .record_attempt(&c.delivery, &outcome, delivered, next)
            .await
        {
            // The lease runs out and the delivery is tried again: at least once.
            tracing::warn!(error = %e, delivery = id, "could not record a webhook attempt");
            return;
        }
        tracing::info!(delivery = id, status = ?outcome.status, error = ?outcome.error, delivered, "webhook attempt");
        let result = match (delivered, gone, next.is_some()) {
            (true, _, _) => "delivered",
            (_, true, _) => "gone",
            (_, _, true) => "retried",
            _ => "failed",
        };
        metrics::counter!("assetgate_webhook_deliveries_total", "result" => result).increment(1);
        let stop = if gone {
            Some("the endpoint answered 410 Gone".to_owned())
        } else {
            let limit = i64::try_from(rules.disable_after.as_millis()).unwrap_or(i64::MAX);
            c.webhook
                .failing_since_ms
                .filter(|since| !delivered && now_ms() - since >= limit)
                .map(|_| format!("failing for {} hours", rules.disable_after.as_secs() / 3600))
        };
        if let Some(why) = stop {
            tracing::warn!(webhook = %c.webhook.webhook_id, why, "webhook endpoint disabled");
            if let Err(e) = self
                .store
                .stop_webhook(c.webhook.webhook_id, WebhookStatus::Disabled, &why)
                .await
            {
                tracing::warn!(error = %e, "could not disable a webhook endpoint");
            }
        }
    }
}

/// The delivery worker of one instance: leases endpoints whose first pending
/// delivery is due and sends each endpoint's deliveries on a task of its own,
/// one after another (so in order), renewing the lease before each. A slow or
/// dead receiver holds only its own endpoint's task.
pub struct Deliveries {
    pub app: App,
    pub sender: Sender,
    pub instance: String,
    /// Twice the sender's timeout and 5 s more: a lease outlives an attempt
    /// and the recording of it, and a crashed instance's endpoints are taken
    /// over soon after.
    pub lease: Duration,
    pub in_flight: std::sync::Arc<tokio::sync::Semaphore>,
}

impl Deliveries {
    pub fn new(app: App, sender: Sender, instance: String, timeout: Duration) -> Self {
        Self {
            app,
            sender,
            instance,
            lease: timeout * 2 + Duration::from_secs(5),
            in_flight: std::sync::Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT)),
        }
    }

    fn lease_ms(&self) -> i64 {
        i64::try_from(self.lease.as_millis()).unwrap_or(60_000)
    }
}

/// Sends one leased endpoint's due deliveries in order, then lets it go.
async fn drain(app: App, sender: Sender, instance: String, lease_ms: i64, mut webhook: Webhook) {
    let id = webhook.webhook_id;
    loop {
        let next = match app.store.next_delivery(&webhook).await {
            Ok(Some(next)) => next,
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(error = %e, webhook = %id, "could not load the next webhook delivery");
                break;
            }
        };
        let secret = SecretString::from(next.webhook.secret.expose().to_owned());
        let outcome = sender
            .send(&next.webhook.url, &next.event_id, &next.payload, &secret)
            .await;
        app.settle(&next, outcome).await;
        // Still ours and still enabled (410, deletion or an operator may have stopped it)?
        match app.store.renew_endpoint(id, &instance, lease_ms).await {
            Ok(Some(now)) => webhook = now,
            // Lost (then the release below does nothing) or stopped.
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(error = %e, webhook = %id, "could not renew a webhook endpoint lease");
                return;
            }
        }
    }
    if let Err(e) = app.store.release_endpoint(id, &instance).await {
        // The lease runs out by itself.
        tracing::warn!(error = %e, webhook = %id, "could not release a webhook endpoint");
    }
}

#[async_trait::async_trait]
impl Job for Deliveries {
    async fn pass(&self) -> anyhow::Result<Pass> {
        let free = self.in_flight.available_permits();
        if free == 0 {
            return Ok(Pass::Idle);
        }
        let claimed = self
            .app
            .store
            .claim_endpoints(&self.instance, self.lease_ms(), free as u64)
            .await?;
        let n = claimed.len();
        for webhook in claimed {
            let Ok(permit) = self.in_flight.clone().try_acquire_owned() else {
                // Cannot happen (only this pass takes permits); the lease runs out.
                break;
            };
            let (app, sender, instance) =
                (self.app.clone(), self.sender.clone(), self.instance.clone());
            let lease_ms = self.lease_ms();
            tokio::spawn(async move {
                drain(app.clone(), sender, instance, lease_ms, webhook).await;
                drop(permit);
                // An event may have come for this endpoint while it was held.
                app.deliveries.wake();
            });
        }
        Ok(if n > 0 && n == free {
            Pass::More
        } else {
            Pass::Idle
        })
    }
}
