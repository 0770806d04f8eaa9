//! Registering a sale: resolves what is bought (a validation token, or an
//! asset directly), checks the purchase rules, and inserts every line of the
//! registration atomically. Lines start PROCESSING; fulfilment is woken.

use std::collections::HashSet;

use super::catalogue::check_purchase;
use super::{App, AppError};
use crate::domain::secrets::hash_presented_validation_token;
use crate::domain::{
    Actor, AssetId, CountryCode, CustomerName, Metadata, OrderLineId, OrderNumber, Price, Quantity,
    Tenant, now_ms,
};
use crate::store::assets::Asset;
use crate::store::orders::{LineTerms, NewLine, RegisterOutcome, Registration};

/// What is being bought.
pub enum Purchase {
    /// Spends a validate-before-payment token; an asset or quantity given
    /// beside it must match the validated ones.
    Validated {
        token: String,
        asset: Option<AssetId>,
        quantity: Option<Quantity>,
    },
    /// The older HL form: an asset directly, under the same rules as validate.
    Direct {
        asset: AssetId,
        quantity: Quantity,
        country: Option<CountryCode>,
    },
}

pub struct RegisterRequest {
    pub order: OrderNumber,
    pub line: OrderLineId,
    pub customer: CustomerName,
    pub unit_price: Price,
    pub line_item_price: Price,
    pub metadata: Option<Metadata>,
    pub purchase: Purchase,
    /// Further lines of the same order: (line, asset).
    pub parts: Vec<(OrderLineId, AssetId)>,
}

/// The purchase once resolved.
struct Resolved {
    asset: Asset,
    quantity: Quantity,
    country: Option<CountryCode>,
    validation_token_id: Option<String>,
}

impl App {
    /// Returns the order's new line numbers, main line first.
    pub async fn register(
        &self,
        actor: &Actor,
        tenant: Tenant,
        req: RegisterRequest,
    ) -> Result<Vec<OrderLineId>, AppError> {
        let resolved = self.resolve(tenant, req.purchase).await?;
        let mut seen = HashSet::from([req.line]);
        let mut parts = Vec::with_capacity(req.parts.len());
        for (i, (line, asset)) in req.parts.into_iter().enumerate() {
            if !seen.insert(line) {
                return Err(AppError::invalid(
                    format!("parts[{i}].order_line_id"),
                    "each line of one registration needs its own order_line_id",
                ));
            }
            parts.push((line, self.asset_for_sale(asset).await?));
        }

        // Parts are components of the main line: the price stays on the main line.
        let mut lines = vec![NewLine {
            order_line_id: req.line,
            asset_id: resolved.asset.asset_id,
            unit_price: req.unit_price,
            line_item_price: req.line_item_price,
        }];
        lines.extend(parts.iter().map(|(line, asset)| NewLine {
            order_line_id: *line,
            asset_id: asset.asset_id,
            unit_price: Price::ZERO,
            line_item_price: Price::ZERO,
        }));
        let numbers: Vec<OrderLineId> = lines.iter().map(|l| l.order_line_id).collect();
        let outcome = self
            .store
            .register(Registration {
                order: tenant.order(req.order),
                actor: actor.clone(),
                validation_token_id: resolved.validation_token_id,
                terms: LineTerms {
                    customer: req.customer,
                    quantity: resolved.quantity,
                    country_code: resolved.country,
                    metadata: req.metadata,
                },
                lines,
            })
            .await?;
        match outcome {
            RegisterOutcome::Registered(_) => {
                self.fulfilment.wake();
                Ok(numbers)
            }
            RegisterOutcome::Duplicate => Err(AppError::OrderExists {
                order: req.order,
                line: req.line,
            }),
            RegisterOutcome::ValidationTokenGone => Err(AppError::ValidationTokenUsed),
        }
    }

    async fn resolve(&self, tenant: Tenant, purchase: Purchase) -> Result<Resolved, AppError> {
        let (token, asset_id, quantity) = match purchase {
            Purchase::Direct {
                asset,
                quantity,
                country,
            } => {
                let asset = self.asset_for_sale(asset).await?;
                check_purchase(&asset, quantity, country.as_ref())?;
                return Ok(Resolved {
                    asset,
                    quantity,
                    country,
                    validation_token_id: None,
                });
            }
            Purchase::Validated {
                token,
                asset,
                quantity,
            } => (token, asset, quantity),
        };
        let hash = hash_presented_validation_token(token.trim())
            .ok_or(AppError::ValidationTokenInvalid)?;
        let found = self
            .store
            .find_validation_token(&hash)
            .await?
            .ok_or(AppError::ValidationTokenInvalid)?;
        // A token of another vendor or environment answers as if it did not exist.
        if found.vendor_id != tenant.vendor || found.environment != tenant.environment {
            return Err(AppError::ValidationTokenInvalid);
        }
        if found.used_at_ms.is_some() {
            return Err(AppError::ValidationTokenUsed);
        }
        if found.expires_at_ms <= now_ms() {
            return Err(AppError::ValidationTokenExpired);
        }
        if asset_id.is_some_and(|a| a != found.asset_id) {
            return Err(AppError::invalid(
                "asset_id",
                "does not match the validated asset",
            ));
        }
        if quantity.is_some_and(|q| q != found.quantity) {
            return Err(AppError::invalid(
                "quantity",
                "does not match the validated quantity",
            ));
        }
        Ok(Resolved {
            asset: self.asset_for_sale(found.asset_id).await?,
            quantity: found.quantity,
            country: found.country_code,
            validation_token_id: Some(found.id),
        })
    }
}
