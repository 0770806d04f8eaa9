//! Vendor API tokens: stored as SHA-256 hashes, never in clear.

use std::collections::HashMap;

use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, DerivePartialModel,
    EntityTrait as _, QueryFilter as _, QueryOrder as _, QuerySelect as _, sea_query::Expr,
};
use secrecy::SecretString;

use super::entities::{api_tokens, vendors};
use super::{Op as _, Store, StoreError};
use crate::domain::secrets::{generate_api_token, hashes_equal};
use crate::domain::{Environment, TokenId, VendorId, VendorStatus, now_ms};

/// A token as the operator sees it: never the secret.
#[derive(Clone, Debug, DerivePartialModel)]
#[sea_orm(entity = "api_tokens::Entity")]
pub struct TokenRecord {
    #[sea_orm(from_col = "id")]
    pub token_id: TokenId,
    pub vendor_id: VendorId,
    pub environment: Environment,
    #[sea_orm(from_col = "display_prefix")]
    pub prefix: String,
    pub created_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
}

/// What a presented token resolves to.
#[derive(Clone, Debug)]
pub struct Authenticated {
    pub token_id: TokenId,
    pub vendor_id: VendorId,
    pub environment: Environment,
    pub vendor_status: VendorStatus,
}

impl Store {
    /// Creates a token; `None` when the vendor does not exist.
    #[tracing::instrument(skip_all, fields(vendor_id = %vendor))]
    pub async fn create_token(
        &self,
        vendor: VendorId,
        environment: Environment,
    ) -> Result<Option<(TokenRecord, SecretString)>, StoreError> {
        if self.get_vendor(vendor).await?.is_none() {
            return Ok(None);
        }
        let secret = generate_api_token(environment);
        let m = api_tokens::ActiveModel {
            id: Set(TokenId::new()),
            vendor_id: Set(vendor),
            environment: Set(environment),
            token_hash: Set(secret.hash),
            display_prefix: Set(secret.display_prefix),
            created_at_ms: Set(now_ms()),
            revoked_at_ms: Set(None),
        }
        .insert(self.conn())
        .await
        .op("creating an API token")?;
        let record = TokenRecord {
            token_id: m.id,
            vendor_id: m.vendor_id,
            environment: m.environment,
            prefix: m.display_prefix,
            created_at_ms: m.created_at_ms,
            revoked_at_ms: m.revoked_at_ms,
        };
        Ok(Some((record, secret.secret)))
    }

    pub async fn get_token(&self, id: TokenId) -> Result<Option<TokenRecord>, StoreError> {
        api_tokens::Entity::find_by_id(id)
            .into_partial_model()
            .one(self.conn())
            .await
            .op("loading an API token")
    }

    /// Revokes a token (once; revoking again changes nothing); `None` when unknown.
    #[tracing::instrument(skip_all, fields(token_id = %id))]
    pub async fn revoke_token(&self, id: TokenId) -> Result<Option<TokenRecord>, StoreError> {
        api_tokens::Entity::update_many()
            .col_expr(api_tokens::Column::RevokedAtMs, Expr::value(now_ms()))
            .filter(api_tokens::Column::Id.eq(id))
            .filter(api_tokens::Column::RevokedAtMs.is_null())
            .exec(self.conn())
            .await
            .op("revoking an API token")?;
        self.get_token(id).await
    }

    /// A vendor's tokens, newest first.
    pub async fn list_tokens(&self, vendor: VendorId) -> Result<Vec<TokenRecord>, StoreError> {
        api_tokens::Entity::find()
            .filter(api_tokens::Column::VendorId.eq(vendor))
            .order_by_desc(api_tokens::Column::CreatedAtMs)
            .into_partial_model()
            .all(self.conn())
            .await
            .op("listing API tokens")
    }

    /// How many active (not revoked) tokens each vendor has.
    pub async fn active_token_counts(&self) -> Result<HashMap<VendorId, i64>, StoreError> {
        let rows: Vec<(VendorId, i64)> = api_tokens::Entity::find()
            .select_only()
            .column(api_tokens::Column::VendorId)
            .column_as(Expr::cust("COUNT(*)"), "n")
            .filter(api_tokens::Column::RevokedAtMs.is_null())
            .group_by(api_tokens::Column::VendorId)
            .into_tuple()
            .all(self.conn())
            .await
            .op("counting API tokens")?;
        Ok(rows.into_iter().collect())
    }

    /// Resolves a token hash to its vendor; `None` for unknown or revoked tokens.
    pub async fn authenticate(&self, hash: &str) -> Result<Option<Authenticated>, StoreError> {
        let op = "authenticating an API token";
        let Some(token) = api_tokens::Entity::find()
            .filter(api_tokens::Column::TokenHash.eq(hash))
            .one(self.conn())
            .await
            .op(op)?
        else {
            return Ok(None);
        };
        if token.revoked_at_ms.is_some() || !hashes_equal(&token.token_hash, hash) {
            return Ok(None);
        }
        let vendor = vendors::Entity::find_by_id(token.vendor_id)
            .one(self.conn())
            .await
            .op(op)?
            .ok_or_else(|| StoreError::Corrupt {
                op,
                detail: format!("token {} has no vendor", token.id),
            })?;
        Ok(Some(Authenticated {
            token_id: token.id,
            vendor_id: token.vendor_id,
            environment: token.environment,
            vendor_status: vendor.status,
        }))
    }
}
