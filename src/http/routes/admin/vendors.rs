use actix_web::web;

use crate::domain::{TokenId, VendorId, VendorStatus, WebhookId};
use crate::http::error::ApiError;
use crate::http::extract::{Admin, ApiQuery};
use crate::http::params::DeliveriesQuery;
use crate::http::path::{At, DeliveryNumber};
use crate::http::responses::{
    Accepted, DeliveryNotFound, DeliveryPage, Json, Redelivered, RoleForbidden, TokenList,
    TokenNotFound, VendorList, VendorNotFound, WebhookList, WebhookNotFound,
};
use crate::http::state::AppState;
use crate::http::wire::{TokenItem, VendorItem};

/// `GET /admin/api/vendors`.
#[utoipa::path(
    get,
    path = "/admin/api/vendors",
    tag = "admin",
    operation_id = "admin_vendors",
    responses(Json<VendorList>),
)]
pub async fn list(_admin: Admin, state: web::Data<AppState>) -> Result<Json<VendorList>, ApiError> {
    let vendors = state.app.vendors().await?;
    Ok(Json(VendorList {
        vendors: vendors.into_iter().map(Into::into).collect(),
    }))
}

/// The documentation every route on one vendor shares.
macro_rules! vendor_route {
    ($method:ident, $path:literal, $op:literal, $ok:ty, $what:literal, $name:ident, $($body:tt)*) => {
        #[doc = $what]
        #[utoipa::path(
            $method,
            path = $path,
            tag = "admin",
            operation_id = $op,
            params(At<VendorId>),
            responses($ok, VendorNotFound, RoleForbidden)
        )]
        pub async fn $name(
            admin: Admin,
            state: web::Data<AppState>,
            At(id): At<VendorId>
        ) -> Result<$ok, ApiError> {
            let run = $($body)*;
            run(admin, &state, id).await
        }
    };
}

vendor_route!(
    post,
    "/admin/api/vendors/{vendor_id}/suspend",
    "admin_vendor_suspend",
    Json<VendorItem>,
    "`POST /admin/api/vendors/{vendor_id}/suspend`: its API calls get 403.",
    suspend,
    async |Admin(operator), state: &AppState, id| {
        let vendor = state
            .app
            .set_vendor_status(&operator, id, VendorStatus::Suspended)
            .await?;
        Ok(Json(vendor.into()))
    }
);

vendor_route!(
    post,
    "/admin/api/vendors/{vendor_id}/activate",
    "admin_vendor_activate",
    Json<VendorItem>,
    "`POST /admin/api/vendors/{vendor_id}/activate`.",
    activate,
    async |Admin(operator), state: &AppState, id| {
        let vendor = state
            .app
            .set_vendor_status(&operator, id, VendorStatus::Active)
            .await?;
        Ok(Json(vendor.into()))
    }
);

vendor_route!(
    get,
    "/admin/api/vendors/{vendor_id}/tokens",
    "admin_vendor_tokens",
    Json<TokenList>,
    "`GET /admin/api/vendors/{vendor_id}/tokens`: never the secrets.",
    tokens,
    async |_: Admin, state: &AppState, id| {
        let tokens = state.app.vendor_tokens(id).await?;
        Ok(Json(TokenList {
            tokens: tokens.into_iter().map(Into::into).collect(),
        }))
    }
);

vendor_route!(
    get,
    "/admin/api/vendors/{vendor_id}/webhooks",
    "admin_vendor_webhooks",
    Json<WebhookList>,
    "`GET /admin/api/vendors/{vendor_id}/webhooks`: both environments.",
    webhooks,
    async |_: Admin, state: &AppState, id| {
        let hooks = state.app.vendor_webhooks(id).await?;
        Ok(Json(WebhookList {
            webhooks: hooks.into_iter().map(Into::into).collect(),
        }))
    }
);

/// `POST /admin/api/tokens/{token_id}/revoke`: its calls get 401 from now on.
#[utoipa::path(
    post,
    path = "/admin/api/tokens/{token_id}/revoke",
    tag = "admin",
    operation_id = "admin_token_revoke",
    params(At<TokenId>),
    responses(Json<TokenItem>, TokenNotFound, RoleForbidden),
)]
pub async fn revoke_token(
    Admin(operator): Admin,
    state: web::Data<AppState>,
    At(id): At<TokenId>,
) -> Result<Json<TokenItem>, ApiError> {
    let token = state.app.operator_revoke_token(&operator, id).await?;
    Ok(Json(token.into()))
}

/// `GET /admin/api/webhooks/{webhook_id}/deliveries`.
#[utoipa::path(
    get,
    path = "/admin/api/webhooks/{webhook_id}/deliveries",
    tag = "admin",
    operation_id = "admin_webhook_deliveries",
    params(At<WebhookId>, DeliveriesQuery),
    responses(Json<DeliveryPage>, WebhookNotFound),
)]
pub async fn deliveries(
    _admin: Admin,
    state: web::Data<AppState>,
    At(id): At<WebhookId>,
    ApiQuery(q): ApiQuery<DeliveriesQuery>,
) -> Result<Json<DeliveryPage>, ApiError> {
    Ok(Json(DeliveryPage::load(&state, id, None, &q).await?))
}

/// `POST /admin/api/deliveries/{delivery_id}/redeliver`: sent again, now.
#[utoipa::path(
    post,
    path = "/admin/api/deliveries/{delivery_id}/redeliver",
    tag = "admin",
    operation_id = "admin_redeliver",
    params(At<DeliveryNumber>),
    responses(Accepted<Redelivered>, DeliveryNotFound, RoleForbidden),
)]
pub async fn redeliver(
    Admin(operator): Admin,
    state: web::Data<AppState>,
    At(DeliveryNumber(id)): At<DeliveryNumber>,
) -> Result<Accepted<Redelivered>, ApiError> {
    let delivery = state.app.redeliver(&operator, id).await?;
    Ok(Json(Redelivered {
        delivery_id: delivery.id,
        event_id: delivery.event_id,
        state: delivery.state,
    }))
}
