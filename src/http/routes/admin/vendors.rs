use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::domain::{TokenId, VendorId, VendorStatus, WebhookId};
use crate::http::error::ApiError;
use crate::http::extract::{Admin, ApiQuery, path_param};
use crate::http::routes::webhooks::{DeliveriesQuery, deliveries_page};
use crate::http::wire::{TokenItem, VendorItem, VendorSummaryItem, WebhookItem};
use crate::state::AppState;

/// `GET /admin/api/vendors`.
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
#[tracing::instrument(skip_all)]
pub async fn suspend(
    admin: Admin,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    set_status(admin, &state, &req, VendorStatus::Suspended).await
}

/// `POST /admin/api/vendors/{vendor_id}/activate`.
#[tracing::instrument(skip_all)]
pub async fn activate(
    admin: Admin,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    set_status(admin, &state, &req, VendorStatus::Active).await
}

/// `GET /admin/api/vendors/{vendor_id}/tokens`: never the secrets.
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
