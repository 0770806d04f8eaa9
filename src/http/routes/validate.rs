use actix_web::{HttpResponse, web};
use secrecy::ExposeSecret as _;
use serde::Deserialize;
use serde_json::json;

use crate::app::ValidateRequest;
use crate::domain::{AssetId, CountryCode, Quantity};
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, Field as _, Vendor};
use crate::state::AppState;

#[derive(Deserialize)]
pub struct ValidateBody {
    asset_id: i64,
    customer_ip: String,
    quantity: i64,
    country_code: Option<String>,
}

/// `POST /purchase/validate-purchase-before-payment`: a one-time token for register.
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
