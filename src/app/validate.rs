//! Validate-before-payment: checks the purchase rules and hands out a
//! one-time token that register spends.

use std::net::IpAddr;

use secrecy::SecretString;

use super::catalogue::check_purchase;
use super::{App, AppError};
use crate::domain::{AssetId, CountryCode, Quantity, Tenant};
use crate::store::validation::NewValidation;

pub struct ValidateRequest {
    pub asset: AssetId,
    pub customer_ip: IpAddr,
    pub quantity: Quantity,
    pub country: Option<CountryCode>,
}

/// A validation token (shown once) and its expiry.
pub struct Validation {
    pub token: SecretString,
    pub expires_at_ms: i64,
}

impl App {
    pub async fn validate(
        &self,
        tenant: Tenant,
        req: ValidateRequest,
    ) -> Result<Validation, AppError> {
        let asset = self.asset_for_sale(req.asset).await?;
        check_purchase(&asset, req.quantity, req.country.as_ref())?;
        let (token, expires_at_ms) = self
            .store
            .create_validation_token(NewValidation {
                tenant,
                asset_id: asset.asset_id,
                quantity: req.quantity,
                country_code: req.country,
                customer_ip: req.customer_ip,
                ttl_ms: self.policy.validation_ttl_ms,
            })
            .await?;
        Ok(Validation {
            token,
            expires_at_ms,
        })
    }
}
