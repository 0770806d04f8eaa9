//! `/webhooks` (SPEC §9): a vendor's endpoints, their deliveries, a test event.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::ExposeSecret as _;
use serde::Deserialize;
use serde_json::json;

use super::admin::{decode_cursor, encode_cursor, page_size};
use crate::domain::{EventFilter, EventType, WebhookId};
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, ApiQuery, Vendor, path_param};
use crate::http::state::AppState;
use crate::http::wire::{DeliveryItem, WebhookItem};

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
        (status = 201, description = "Registered; the secret is shown only here", body = crate::http::openapi::WebhookCreated),
        (status = 408, description = "`request_timeout`: the body did not arrive in time", body = crate::http::error::ErrorResponse),
        (status = 413, description = "`payload_too_large`: the body exceeds `server.max_body_bytes`", body = crate::http::error::ErrorResponse),
        (status = 422, description = "`invalid_request`: `details.field` names the field; `webhook_url_not_allowed`", body = crate::http::error::ErrorResponse),
        crate::http::openapi::VendorAuthErrors,
        crate::http::openapi::DatabaseUnavailable
    ),
    security(("vendor_token" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn create(
    caller: Vendor,
    state: web::Data<AppState>,
    ApiJson { value: b, .. }: ApiJson<CreateBody>,
) -> Result<HttpResponse, ApiError> {
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
    let mut body =
        serde_json::to_value(WebhookItem::from(created.webhook)).map_err(ApiError::internal)?;
    body["secret"] = json!(created.secret.expose_secret());
    Ok(HttpResponse::build(StatusCode::CREATED).json(body))
}

/// `GET /webhooks`.
#[utoipa::path(
    get,
    path = "/webhooks",
    tag = "webhooks",
    operation_id = "webhooks_list",
    responses(
        (status = 200, description = "The tenant's endpoints, without secrets", body = crate::http::openapi::WebhookList),
        crate::http::openapi::VendorAuthErrors,
        crate::http::openapi::DatabaseUnavailable
    ),
    security(("vendor_token" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn list(caller: Vendor, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let hooks: Vec<WebhookItem> = state
        .app
        .webhooks(caller.tenant)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "webhooks": hooks })))
}

fn webhook_id(req: &HttpRequest) -> Result<WebhookId, ApiError> {
    path_param(req, "webhook_id", WebhookId::parse)
}

/// `DELETE /webhooks/{webhook_id}`: 204; its pending deliveries stop.
#[utoipa::path(
    delete,
    path = "/webhooks/{webhook_id}",
    tag = "webhooks",
    operation_id = "webhooks_delete",
    params(("webhook_id" = String, Path, description = "The endpoint")),
    responses(
        (status = 204, description = "Deleted; its pending deliveries stop"),
        (status = 404, description = "`webhook_not_found`", body = crate::http::error::ErrorResponse),
        (status = 422, description = "`invalid_request`: `details.field` names the field", body = crate::http::error::ErrorResponse),
        crate::http::openapi::VendorAuthErrors,
        crate::http::openapi::DatabaseUnavailable
    ),
    security(("vendor_token" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn delete(
    caller: Vendor,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    state
        .app
        .delete_webhook(caller.tenant, webhook_id(&req)?)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    page_size: Option<i64>,
    cursor: Option<String>,
}

impl DeliveriesQuery {
    pub fn page(&self) -> Result<(Option<i64>, u64), ApiError> {
        let before = self
            .cursor
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(|c| decode_cursor::<1>(c).map(|[id]| id))
            .transpose()?;
        Ok((before, page_size(self.page_size, 50, 200)?))
    }
}

/// The deliveries page shared by the vendor and admin routes.
pub async fn deliveries_page(
    state: &AppState,
    id: WebhookId,
    tenant: Option<crate::domain::Tenant>,
    q: &DeliveriesQuery,
) -> Result<HttpResponse, ApiError> {
    let (before, limit) = q.page()?;
    let mut rows = state
        .app
        .webhook_deliveries(id, tenant, before, limit + 1)
        .await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next_cursor = more
        .then(|| rows.last().map(|(d, _)| encode_cursor(&[d.id])))
        .flatten();
    let deliveries: Vec<DeliveryItem> = rows.into_iter().map(DeliveryItem::from).collect();
    Ok(HttpResponse::Ok().json(json!({"deliveries": deliveries, "next_cursor": next_cursor})))
}

/// `GET /webhooks/{webhook_id}/deliveries`.
#[utoipa::path(
    get,
    path = "/webhooks/{webhook_id}/deliveries",
    tag = "webhooks",
    operation_id = "webhooks_deliveries",
    params(("webhook_id" = String, Path, description = "The endpoint"), DeliveriesQuery),
    responses(
        (status = 200, description = "Deliveries, newest first", body = crate::http::openapi::DeliveryPage),
        (status = 404, description = "`webhook_not_found`", body = crate::http::error::ErrorResponse),
        (status = 422, description = "`invalid_request`: `details.field` names the field", body = crate::http::error::ErrorResponse),
        crate::http::openapi::VendorAuthErrors,
        crate::http::openapi::DatabaseUnavailable
    ),
    security(("vendor_token" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn deliveries(
    caller: Vendor,
    state: web::Data<AppState>,
    req: HttpRequest,
    ApiQuery(q): ApiQuery<DeliveriesQuery>,
) -> Result<HttpResponse, ApiError> {
    deliveries_page(&state, webhook_id(&req)?, Some(caller.tenant), &q).await
}

/// `POST /webhooks/{webhook_id}/test`: 202; a `webhook.test` event is sent.
#[utoipa::path(
    post,
    path = "/webhooks/{webhook_id}/test",
    tag = "webhooks",
    operation_id = "webhooks_test",
    params(("webhook_id" = String, Path, description = "The endpoint")),
    responses(
        (status = 202, description = "A `webhook.test` event is queued", body = crate::http::openapi::Queued),
        (status = 404, description = "`webhook_not_found`", body = crate::http::error::ErrorResponse),
        (status = 422, description = "`invalid_request`: `details.field` names the field", body = crate::http::error::ErrorResponse),
        crate::http::openapi::VendorAuthErrors,
        crate::http::openapi::DatabaseUnavailable
    ),
    security(("vendor_token" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn test(
    caller: Vendor,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    state
        .app
        .test_webhook(caller.tenant, webhook_id(&req)?)
        .await?;
    Ok(HttpResponse::Accepted().json(json!({"status": "queued"})))
}
