use actix_web::web;
use secrecy::ExposeSecret as _;
use serde::Deserialize;

use crate::app::ValidateRequest;
use crate::domain::{AssetId, CountryCode, Quantity};
use crate::http::error::{ApiError, ErrorResponse};
use crate::http::extract::{ApiJson, Field as _, Vendor};
use crate::http::responses::{AssetNotFound, BodyErrors, Json, Validated};
use crate::http::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ValidateBody {
    asset_id: i64,
    customer_ip: String,
    quantity: i64,
    country_code: Option<String>,
}

impl ValidateBody {
    fn parse(self) -> Result<ValidateRequest, ApiError> {
        Ok(ValidateRequest {
            asset: AssetId::parse(self.asset_id).field("asset_id")?,
            customer_ip: self
                .customer_ip
                .trim()
                .parse::<std::net::IpAddr>()
                .map_err(|_| ApiError::invalid("customer_ip", "must be an IPv4 or IPv6 address"))?,
            quantity: Quantity::parse(self.quantity).field("quantity")?,
            country: self
                .country_code
                .as_deref()
                .map(CountryCode::parse)
                .transpose()
                .field("country_code")?,
        })
    }
}

/// `POST /purchase/validate-purchase-before-payment`: a one-time token for register.
#[utoipa::path(
    post,
    path = "/purchase/validate-purchase-before-payment",
    tag = "purchase",
    request_body = ValidateBody,
    responses(
        Json<Validated>,
        (status = 400, description = "`quantity_below_minimum`, `region_not_allowed`", body = ErrorResponse),
        AssetNotFound,
        BodyErrors
    )
)]
pub async fn validate(
    caller: Vendor,
    state: web::Data<AppState>,
    body: ApiJson<ValidateBody>,
) -> Result<Json<Validated>, ApiError> {
    let validation = state
        .app
        .validate(caller.tenant, body.value.parse()?)
        .await?;
    Ok(Json(Validated {
        token: validation.token.expose_secret().to_owned(),
        exp_date: validation.expires_at_ms / 1000,
    }))
}
