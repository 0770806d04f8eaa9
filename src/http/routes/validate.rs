use actix_web::{HttpResponse, web};
use secrecy::ExposeSecret as _;
use serde::Deserialize;
use serde_json::json;

use crate::app::ValidateRequest;
use crate::domain::{AssetId, CountryCode, Quantity};
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, Field as _, Vendor};
use crate::http::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ValidateBody {
    asset_id: i64,
    customer_ip: String,
    quantity: i64,
    country_code: Option<String>,
}

/// `POST /purchase/validate-purchase-before-payment`: a one-time token for register.
#[utoipa::path(
    post,
    path = "/purchase/validate-purchase-before-payment",
    tag = "purchase",
    request_body = ValidateBody,
    responses(
        (status = 200, description = "A one-time token for register", body = crate::http::openapi::Validated),
        (status = 400, description = "`quantity_below_minimum`, `region_not_allowed`", body = crate::http::error::ErrorResponse),
        (status = 404, description = "`asset_not_found`", body = crate::http::error::ErrorResponse),
        (status = 408, description = "`request_timeout`: the body did not arrive in time", body = crate::http::error::ErrorResponse),
        (status = 413, description = "`payload_too_large`: the body exceeds `server.max_body_bytes`", body = crate::http::error::ErrorResponse),
        (status = 422, description = "`invalid_request`: `details.field` names the field", body = crate::http::error::ErrorResponse),
        crate::http::openapi::VendorAuthErrors,
        crate::http::openapi::DatabaseUnavailable
    ),
    security(("vendor_token" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn validate(
    caller: Vendor,
    state: web::Data<AppState>,
    body: ApiJson<ValidateBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.value;
    let quantity = Quantity::parse(b.quantity).field("quantity")?;
    let customer_ip = b
        .customer_ip
        .trim()
        .parse::<std::net::IpAddr>()
        .map_err(|_| ApiError::invalid("customer_ip", "must be an IPv4 or IPv6 address"))?;
    let country = b
        .country_code
        .as_deref()
        .map(CountryCode::parse)
        .transpose()
        .field("country_code")?;
    let asset = AssetId::parse(b.asset_id).field("asset_id")?;
    let validation = state
        .app
        .validate(
            caller.tenant,
            ValidateRequest {
                asset,
                customer_ip,
                quantity,
                country,
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(json!({
        "token": validation.token.expose_secret(),
        "exp_date": validation.expires_at_ms / 1000,
    })))
}
