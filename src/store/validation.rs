//! One-time validate-before-payment tokens.

use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, EntityTrait as _, QueryFilter as _,
};
use secrecy::SecretString;

use super::entities::validation_tokens;
use super::{Op as _, Store, StoreError};
use crate::domain::secrets::generate_validation_token;
use crate::domain::{AssetId, CountryCode, Quantity, Tenant, now_ms};

pub use super::entities::validation_tokens::Model as ValidationToken;

pub struct NewValidation {
    pub tenant: Tenant,
    pub asset_id: AssetId,
    pub quantity: Quantity,
    pub country_code: Option<CountryCode>,
    pub customer_ip: std::net::IpAddr,
    pub ttl_ms: i64,
}

impl Store {
    /// Stores a new token (hashed) and returns the secret and its expiry.
    pub async fn create_validation_token(
        &self,
        new: NewValidation,
    ) -> Result<(SecretString, i64), StoreError> {
        let secret = generate_validation_token();
        let now = now_ms();
        let expires = now + new.ttl_ms;
        validation_tokens::ActiveModel {
            id: Set(uuid::Uuid::new_v4().to_string()),
            token_hash: Set(secret.hash),
            vendor_id: Set(new.tenant.vendor),
            environment: Set(new.tenant.environment),
            asset_id: Set(new.asset_id),
            quantity: Set(new.quantity),
            country_code: Set(new.country_code),
            customer_ip: Set(new.customer_ip.to_string()),
            created_at_ms: Set(now),
            expires_at_ms: Set(expires),
            used_at_ms: Set(None),
        }
        .insert(self.conn())
        .await
        .op("creating a validation token")?;
        Ok((secret.secret, expires))
    }

    pub async fn find_validation_token(
        &self,
        hash: &str,
    ) -> Result<Option<ValidationToken>, StoreError> {
        validation_tokens::Entity::find()
            .filter(validation_tokens::Column::TokenHash.eq(hash))
            .one(self.conn())
            .await
            .op("loading a validation token")
    }
}
