//! One-time validate-before-payment tokens.

use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, DbErr, EntityTrait as _,
    QueryFilter as _,
};
use secrecy::SecretString;

use super::Store;
use super::entities::validation_tokens;
use crate::domain::secrets::generate_validation_token;
use crate::domain::{AssetId, CountryCode, Environment, Quantity, VendorId, now_ms};

#[derive(Clone, Debug)]
pub struct ValidationToken {
    pub id: String,
    pub vendor: String,
    pub environment: String,
    pub asset_id: AssetId,
    pub quantity: i32,
    pub country_code: Option<String>,
    pub expires_at_ms: i64,
    pub used: bool,
}

pub struct NewValidation {
    pub vendor: VendorId,
    pub environment: Environment,
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
    ) -> Result<(SecretString, i64), DbErr> {
        let secret = generate_validation_token();
        let now = now_ms();
        let expires = now + new.ttl_ms;
        validation_tokens::ActiveModel {
            id: Set(uuid::Uuid::new_v4().to_string()),
            token_hash: Set(secret.hash),
            vendor_id: Set(new.vendor.to_string()),
            environment: Set(new.environment.as_str().to_owned()),
            asset_id: Set(new.asset_id.get()),
            quantity: Set(new.quantity.get()),
            country_code: Set(new.country_code.map(|c| c.as_str().to_owned())),
            customer_ip: Set(new.customer_ip.to_string()),
            created_at_ms: Set(now),
            expires_at_ms: Set(expires),
            used_at_ms: Set(None),
        }
        .insert(self.conn())
        .await?;
        Ok((secret.secret, expires))
    }

    pub async fn find_validation_token(
        &self,
        hash: &str,
    ) -> Result<Option<ValidationToken>, DbErr> {
        Ok(validation_tokens::Entity::find()
            .filter(validation_tokens::Column::TokenHash.eq(hash))
            .one(self.conn())
            .await?
            .map(|m| ValidationToken {
                id: m.id,
                vendor: m.vendor_id,
                environment: m.environment,
                asset_id: AssetId::from_db(m.asset_id),
                quantity: m.quantity,
                country_code: m.country_code,
                expires_at_ms: m.expires_at_ms,
                used: m.used_at_ms.is_some(),
            }))
    }
}
