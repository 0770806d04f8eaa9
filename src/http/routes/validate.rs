use actix_web::{HttpResponse, web};
use secrecy::ExposeSecret as _;
use serde::Deserialize;
use serde_json::json;

use crate::domain::{AssetId, CountryCode, Quantity};
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, Caller};
use crate::state::AppState;
use crate::store::assets::Asset;
use crate::store::validation::NewValidation;

#[derive(Deserialize)]
pub struct ValidateBody {
    asset_id: i64,
    customer_ip: String,
    quantity: i64,
    country_code: Option<String>,
}

/// The purchase rules of an asset: minimum quantity and allowed regions.
pub fn check_purchase(
    asset: &Asset,
    quantity: Quantity,
    country: Option<&CountryCode>,
) -> Result<(), ApiError> {
    if quantity.get() < asset.min_qty {
        return Err(ApiError::QuantityBelowMinimum {
            asset_id: asset.asset_id.get(),
            quantity: i64::from(quantity.get()),
            min_qty: asset.min_qty,
        });
    }
    if !asset.allows_country(country) {
        return Err(ApiError::RegionNotAllowed {
            asset_id: asset.asset_id.get(),
            country_code: country.map(|c| c.as_str().to_owned()),
            countries: asset.countries.clone(),
        });
    }
    Ok(())
}

pub async fn find_asset(state: &AppState, raw: i64) -> Result<Asset, ApiError> {
    let id = AssetId::parse(raw).map_err(|e| ApiError::invalid("asset_id", e))?;
    state
        .store
        .get_asset(id)
        .await?
        .ok_or(ApiError::AssetNotFound { asset_id: raw })
}

pub fn parse_country(raw: Option<&str>) -> Result<Option<CountryCode>, ApiError> {
    raw.map(CountryCode::parse)
        .transpose()
        .map_err(|e| ApiError::invalid("country_code", e))
}

/// `POST /purchase/validate-purchase-before-payment`: a one-time token for register.
#[tracing::instrument(skip_all)]
pub async fn validate(
    caller: Caller,
    state: web::Data<AppState>,
    body: ApiJson<ValidateBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.value;
    let quantity = Quantity::parse(b.quantity).map_err(|e| ApiError::invalid("quantity", e))?;
    let customer_ip = b
        .customer_ip
        .trim()
        .parse::<std::net::IpAddr>()
        .map_err(|_| ApiError::invalid("customer_ip", "must be an IPv4 or IPv6 address"))?;
    let country = parse_country(b.country_code.as_deref())?;
    let asset = find_asset(&state, b.asset_id).await?;
    check_purchase(&asset, quantity, country.as_ref())?;
    let ttl_ms = i64::try_from(state.settings.validation.ttl_seconds.saturating_mul(1000))
        .unwrap_or(i64::MAX / 2);
    let (token, expires_ms) = state
        .store
        .create_validation_token(NewValidation {
            vendor: caller.vendor,
            environment: caller.environment,
            asset_id: asset.asset_id,
            quantity,
            country_code: country,
            customer_ip,
            ttl_ms,
        })
        .await?;
    Ok(HttpResponse::Ok().json(json!({
        "token": token.expose_secret(),
        "exp_date": expires_ms / 1000,
    })))
}
