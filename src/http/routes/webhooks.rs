//! `/webhooks` (SPEC §9): a vendor's endpoints, their deliveries, a test event.

use actix_web::web;
use secrecy::ExposeSecret as _;
use serde::Deserialize;

use crate::domain::{EventFilter, EventType, WebhookId};
use crate::http::error::{ApiError, ErrorResponse};
use crate::http::extract::{ApiJson, ApiQuery, Vendor};
use crate::http::params::DeliveriesQuery;
use crate::http::path::{At, EventId};
use crate::http::responses::{
    Accepted, BodyErrors, Created, DeliveryNotFound, DeliveryPage, Json, NoContent, Queued,
    WebhookCreated, WebhookList, WebhookNotFound,
};
use crate::http::state::AppState;
use crate::http::wire::DeliveryItem;

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = WebhookCreate)]
pub struct CreateBody {
    url: String,
    events: Option<Vec<String>>,
    description: Option<String>,
}

/// `POST /webhooks`: 201 with the secret, shown only here.
#[utoipa::path(
    post,
    path = "/webhooks",
    tag = "webhooks",
    operation_id = "webhooks_create",
    request_body = CreateBody,
    responses(
        Created<WebhookCreated>,
        BodyErrors,
        (status = 422, description = "`invalid_request`: `details.field` names the field; `webhook_url_not_allowed`, `webhook_limit_reached`", body = ErrorResponse)
    )
)]
pub async fn create(
    caller: Vendor,
    state: web::Data<AppState>,
    ApiJson { value: b, .. }: ApiJson<CreateBody>,
) -> Result<Created<WebhookCreated>, ApiError> {
    if b.url.len() > 2000 {
        return Err(ApiError::invalid("url", "must be at most 2000 characters"));
    }
    let events = b
        .events
        .unwrap_or_default()
        .iter()
        .map(|e| {
            e.parse::<EventType>()
                .map_err(|err| ApiError::invalid("events", err))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if events.contains(&EventType::Test) {
        return Err(ApiError::invalid(
            "events",
            "webhook.test is sent on request, not subscribed to",
        ));
    }
    let description = b
        .description
        .map(|d| d.trim().to_owned())
        .filter(|d| !d.is_empty());
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 200)
    {
        return Err(ApiError::invalid(
            "description",
            "must be at most 200 characters",
        ));
    }
    let created = state
        .app
        .create_webhook(caller.tenant, &b.url, EventFilter::new(events), description)
        .await?;
    Ok(Created::new(WebhookCreated {
        secret: created.secret.expose_secret().to_owned(),
        webhook: created.webhook.into(),
    }))
}

/// `GET /webhooks`.
#[utoipa::path(
    get,
    path = "/webhooks",
    tag = "webhooks",
    operation_id = "webhooks_list",
    responses(Json<WebhookList>),
)]
pub async fn list(
    caller: Vendor,
    state: web::Data<AppState>,
) -> Result<Json<WebhookList>, ApiError> {
    let webhooks = state.app.webhooks(caller.tenant).await?;
    Ok(Json(WebhookList {
        webhooks: webhooks.into_iter().map(Into::into).collect(),
    }))
}

/// `DELETE /webhooks/{webhook_id}`: 204; its pending deliveries stop.
#[utoipa::path(
    delete,
    path = "/webhooks/{webhook_id}",
    tag = "webhooks",
    operation_id = "webhooks_delete",
    params(At<WebhookId>),
    responses(NoContent, WebhookNotFound),
)]
pub async fn delete(
    caller: Vendor,
    state: web::Data<AppState>,
    At(id): At<WebhookId>,
) -> Result<NoContent, ApiError> {
    state.app.delete_webhook(caller.tenant, id).await?;
    Ok(NoContent)
}

/// `GET /webhooks/{webhook_id}/deliveries`.
#[utoipa::path(
    get,
    path = "/webhooks/{webhook_id}/deliveries",
    tag = "webhooks",
    operation_id = "webhooks_deliveries",
    params(At<WebhookId>, DeliveriesQuery),
    responses(Json<DeliveryPage>, WebhookNotFound),
)]
pub async fn deliveries(
    caller: Vendor,
    state: web::Data<AppState>,
    At(id): At<WebhookId>,
    ApiQuery(q): ApiQuery<DeliveriesQuery>,
) -> Result<Json<DeliveryPage>, ApiError> {
    Ok(Json(
        DeliveryPage::load(&state, id, Some(caller.tenant), &q).await?,
    ))
}

/// `POST /webhooks/{webhook_id}/test`: 202; a `webhook.test` event is sent.
#[utoipa::path(
    post,
    path = "/webhooks/{webhook_id}/test",
    tag = "webhooks",
    operation_id = "webhooks_test",
    params(At<WebhookId>),
    responses(Accepted<Queued>, WebhookNotFound),
)]
pub async fn test(
    caller: Vendor,
    state: web::Data<AppState>,
    At(id): At<WebhookId>,
) -> Result<Accepted<Queued>, ApiError> {
    state.app.test_webhook(caller.tenant, id).await?;
    Ok(Accepted::new(Queued::NOW))
}

/// `POST /webhooks/{webhook_id}/deliveries/{event_id}/retry`: 202 with the
/// delivery, queued again and due now (a disabled endpoint is enabled again).
#[utoipa::path(
    post,
    path = "/webhooks/{webhook_id}/deliveries/{event_id}/retry",
    tag = "webhooks",
    operation_id = "webhooks_retry",
    params(At<WebhookId>, At<EventId>),
    responses(Accepted<DeliveryItem>, WebhookNotFound, DeliveryNotFound),
)]
pub async fn retry(
    caller: Vendor,
    state: web::Data<AppState>,
    At(id): At<WebhookId>,
    At(event): At<EventId>,
) -> Result<Accepted<DeliveryItem>, ApiError> {
    let (delivery, kind) = state
        .app
        .retry_delivery(caller.tenant, id, &event.0)
        .await?;
    Ok(Accepted::new(DeliveryItem::queued(delivery, kind)))
}
