use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, DbErr, EntityTrait as _,
    QueryFilter as _,
};
use secrecy::SecretString;
use serde::Serialize;

use super::Store;
use super::entities::{api_tokens, vendors};
use crate::domain::secrets::{generate_api_token, hashes_equal};
use crate::domain::{Environment, TokenId, VendorId, VendorStatus, ms_to_rfc3339, now_ms};

/// A token as the operator sees it: never the secret.
#[derive(Clone, Debug, Serialize)]
pub struct TokenRecord {
    pub token_id: TokenId,
    pub vendor_id: VendorId,
    pub environment: Environment,
    pub prefix: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// What a presented token resolves to.
#[derive(Clone, Debug)]
pub struct Authenticated {
    pub token_id: TokenId,
    pub vendor_id: VendorId,
    pub environment: Environment,
    pub vendor_status: VendorStatus,
}

fn custom(e: impl std::fmt::Display) -> DbErr {
    DbErr::Custom(e.to_string())
}

impl TryFrom<api_tokens::Model> for TokenRecord {
    type Error = DbErr;
    fn try_from(m: api_tokens::Model) -> Result<Self, DbErr> {
        Ok(Self {
            token_id: TokenId::parse(&m.id).map_err(custom)?,
            vendor_id: VendorId::parse(&m.vendor_id).map_err(custom)?,
            environment: m.environment.parse().map_err(custom)?,
            prefix: m.display_prefix,
            created_at: ms_to_rfc3339(m.created_at_ms),
            revoked_at: m.revoked_at_ms.map(ms_to_rfc3339),
        })
    }
}

impl Store {
    /// Creates a token; `None` when the vendor does not exist.
    #[tracing::instrument(skip_all, fields(vendor_id = %vendor))]
    pub async fn create_token(
        &self,
        vendor: VendorId,
        environment: Environment,
    ) -> Result<Option<(TokenRecord, SecretString)>, DbErr> {
        if self.get_vendor(vendor).await?.is_none() {
            return Ok(None);
        }
        let secret = generate_api_token(environment);
        let model = api_tokens::ActiveModel {
            id: Set(TokenId::new().to_string()),
            vendor_id: Set(vendor.to_string()),
            environment: Set(environment.as_str().to_owned()),
            token_hash: Set(secret.hash),
            display_prefix: Set(secret.display_prefix),
            created_at_ms: Set(now_ms()),
            revoked_at_ms: Set(None),
        }
        .insert(self.conn())
        .await?;
        Ok(Some((model.try_into()?, secret.secret)))
    }

    #[tracing::instrument(skip_all, fields(token_id = %id))]
    pub async fn revoke_token(&self, id: TokenId) -> Result<Option<TokenRecord>, DbErr> {
        let Some(model) = api_tokens::Entity::find_by_id(id.to_string())
            .one(self.conn())
            .await?
        else {
            return Ok(None);
        };
        if model.revoked_at_ms.is_some() {
            return model.try_into().map(Some);
        }
        let mut active: api_tokens::ActiveModel = model.into();
        active.revoked_at_ms = Set(Some(now_ms()));
        active.update(self.conn()).await?.try_into().map(Some)
    }

    /// Resolves a token hash to its vendor; `None` for unknown or revoked tokens.
    pub async fn authenticate(&self, hash: &str) -> Result<Option<Authenticated>, DbErr> {
        let Some(token) = api_tokens::Entity::find()
            .filter(api_tokens::Column::TokenHash.eq(hash))
            .one(self.conn())
            .await?
        else {
            return Ok(None);
        };
        if token.revoked_at_ms.is_some() || !hashes_equal(&token.token_hash, hash) {
            return Ok(None);
        }
        let vendor = vendors::Entity::find_by_id(token.vendor_id.clone())
            .one(self.conn())
            .await?
            .ok_or_else(|| DbErr::Custom("token without vendor".into()))?;
        Ok(Some(Authenticated {
            token_id: TokenId::parse(&token.id).map_err(custom)?,
            vendor_id: VendorId::parse(&token.vendor_id).map_err(custom)?,
            environment: token.environment.parse().map_err(custom)?,
            vendor_status: vendor.status.parse().map_err(custom)?,
        }))
    }
}
