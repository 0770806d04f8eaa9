use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::domain::{TokenId, VendorId, VendorStatus, WebhookId};
use crate::http::error::ApiError;
use crate::http::extract::{Admin, ApiQuery, path_param};
use crate::http::routes::webhooks::{DeliveriesQuery, deliveries_page};
use crate::http::state::AppState;
use crate::http::wire::{TokenItem, VendorItem, VendorSummaryItem, WebhookItem};

/// `GET /admin/api/vendors`.
#[utoipa::path(
    get,
    path = "/admin/api/vendors",
    tag = "admin",
    operation_id = "admin_vendors",
    responses(
        (status = 200, description = "Every vendor", body = crate::http::openapi::VendorList),
        crate::http::openapi::AdminAuthErrors,
        crate::http::openapi::DatabaseUnavailable
    ),
    security(("admin_token" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn list(_admin: Admin, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let vendors: Vec<VendorSummaryItem> = state
        .app
        .vendors()
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "vendors": vendors })))
}

async fn set_status(
    operator: Admin,
    state: &AppState,
    req: &HttpRequest,
    status: VendorStatus,
) -> Result<HttpResponse, ApiError> {
    let id = path_param(req, "vendor_id", VendorId::parse)?;
    let vendor = state.app.set_vendor_status(&operator.0, id, status).await?;
    Ok(HttpResponse::Ok().json(VendorItem::from(vendor)))
}

/// `POST /admin/api/vendors/{vendor_id}/suspend`: its API calls get 403.
#[utoipa::path(
    post,
    path = "/admin/api/vendors/{vendor_id}/suspend",
    tag = "admin",
    operation_id = "admin_vendor_suspend",
    params(("vendor_id" = String, Path, description = "The vendor")),
    responses(
        (status = 200, description = "Suspended", body = crate::http::wire::VendorItem),
        (status = 404, description = "`vendor_not_found`", body = crate::http::error::ErrorResponse),
        (status = 422, description = "`invalid_request`: `details.field` names the field", body = crate::http::error::ErrorResponse),
        crate::http::openapi::AdminAuthErrors,
        crate::http::openapi::DatabaseUnavailable
    ),
    security(("admin_token" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn suspend(
    admin: Admin,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    set_status(admin, &state, &req, VendorStatus::Suspended).await
}

/// `POST /admin/api/vendors/{vendor_id}/activate`.
#[utoipa::path(
    post,
    path = "/admin/api/vendors/{vendor_id}/activate",
    tag = "admin",
    operation_id = "admin_vendor_activate",
    params(("vendor_id" = String, Path, description = "The vendor")),
    responses(
        (status = 200, description = "Active", body = crate::http::wire::VendorItem),
        (status = 404, description = "`vendor_not_found`", body = crate::http::error::ErrorResponse),
        (status = 422, description = "`invalid_request`: `details.field` names the field", body = crate::http::error::ErrorResponse),
        crate::http::openapi::AdminAuthErrors,
        crate::http::openapi::DatabaseUnavailable
    ),
    security(("admin_token" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn activate(
    admin: Admin,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    set_status(admin, &state, &req, VendorStatus::Active).await
}

/// `GET /admin/api/vendors/{vendor_id}/tokens`: never the secrets.
#[utoipa::path(
    get,
    path = "/admin/api/vendors/{vendor_id}/tokens",
    tag = "admin",
    operation_id = "admin_vendor_tokens",
    params(("vendor_id" = String, Path, description = "The vendor")),
    responses(
        (status = 200, description = "The vendor's tokens, never their secrets", body = crate::http::openapi::TokenList),
        (status = 404, description = "`vendor_not_found`", body = crate::http::error::ErrorResponse),
        (status = 422, description = "`invalid_request`: `details.field` names the field", body = crate::http::error::ErrorResponse),
        crate::http::openapi::AdminAuthErrors,
        crate::http::openapi::DatabaseUnavailable
    ),
    security(("admin_token" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn tokens(
    _admin: Admin,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = path_param(&req, "vendor_id", VendorId::parse)?;
    let tokens: Vec<TokenItem> = state
        .app
        .vendor_tokens(id)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "tokens": tokens })))
}

/// `POST /admin/api/tokens/{token_id}/revoke`: its calls get 401 from now on.
#[utoipa::path(
    post,
    path = "/admin/api/tokens/{token_id}/revoke",
    tag = "admin",
    operation_id = "admin_token_revoke",
    params(("token_id" = String, Path, description = "The token")),
    responses(
        (status = 200, description = "Revoked: calls with it get 401", body = crate::http::wire::TokenItem),
        (status = 404, description = "`token_not_found`", body = crate::http::error::ErrorResponse),
        (status = 422, description = "`invalid_request`: `details.field` names the field", body = crate::http::error::ErrorResponse),
        crate::http::openapi::AdminAuthErrors,
        crate::http::openapi::DatabaseUnavailable
    ),
    security(("admin_token" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn revoke_token(
    Admin(operator): Admin,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = path_param(&req, "token_id", TokenId::parse)?;
    let token = state.app.operator_revoke_token(&operator, id).await?;
    Ok(HttpResponse::Ok().json(TokenItem::from(token)))
}

/// `GET /admin/api/vendors/{vendor_id}/webhooks`: both environments.
#[utoipa::path(
    get,
    path = "/admin/api/vendors/{vendor_id}/webhooks",
    tag = "admin",
    operation_id = "admin_vendor_webhooks",
    params(("vendor_id" = String, Path, description = "The vendor")),
    responses(
        (status = 200, description = "The vendor's endpoints, both environments", body = crate::http::openapi::WebhookList),
        (status = 404, description = "`vendor_not_found`", body = crate::http::error::ErrorResponse),
        (status = 422, description = "`invalid_request`: `details.field` names the field", body = crate::http::error::ErrorResponse),
        crate::http::openapi::AdminAuthErrors,
        crate::http::openapi::DatabaseUnavailable
    ),
    security(("admin_token" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn webhooks(
    _admin: Admin,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = path_param(&req, "vendor_id", VendorId::parse)?;
    let hooks: Vec<WebhookItem> = state
        .app
        .vendor_webhooks(id)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "webhooks": hooks })))
}

/// `GET /admin/api/webhooks/{webhook_id}/deliveries`.
#[utoipa::path(
    get,
    path = "/admin/api/webhooks/{webhook_id}/deliveries",
    tag = "admin",
    operation_id = "admin_webhook_deliveries",
    params(("webhook_id" = String, Path, description = "The endpoint"), crate::http::routes::webhooks::DeliveriesQuery),
    responses(
        (status = 200, description = "Deliveries, newest first", body = crate::http::openapi::DeliveryPage),
        (status = 404, description = "`webhook_not_found`", body = crate::http::error::ErrorResponse),
        (status = 422, description = "`invalid_request`: `details.field` names the field", body = crate::http::error::ErrorResponse),
        crate::http::openapi::AdminAuthErrors,
        crate::http::openapi::DatabaseUnavailable
    ),
    security(("admin_token" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn deliveries(
    _admin: Admin,
    state: web::Data<AppState>,
    req: HttpRequest,
    ApiQuery(q): ApiQuery<DeliveriesQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = path_param(&req, "webhook_id", WebhookId::parse)?;
    deliveries_page(&state, id, None, &q).await
}

/// `POST /admin/api/deliveries/{delivery_id}/redeliver`: sent again, now.
#[utoipa::path(
    post,
    path = "/admin/api/deliveries/{delivery_id}/redeliver",
    tag = "admin",
    operation_id = "admin_redeliver",
    params(("delivery_id" = i64, Path, description = "The delivery")),
    responses(
        (status = 202, description = "Queued again, due now (a DISABLED endpoint is enabled again)", body = crate::http::openapi::Redelivered),
        (status = 404, description = "`delivery_not_found`", body = crate::http::error::ErrorResponse),
        (status = 422, description = "`invalid_request`: `details.field` names the field", body = crate::http::error::ErrorResponse),
        crate::http::openapi::AdminAuthErrors,
        crate::http::openapi::DatabaseUnavailable
    ),
    security(("admin_token" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn redeliver(
    Admin(operator): Admin,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = path_param(&req, "delivery_id", |s| {
        s.parse::<i64>()
            .map_err(|_| "must be a delivery id (an integer)")
    })?;
    let delivery = state.app.redeliver(&operator, id).await?;
    Ok(HttpResponse::Accepted().json(json!({
        "delivery_id": delivery.id,
        "event_id": delivery.event_id,
        "state": delivery.state,
    })))
}
