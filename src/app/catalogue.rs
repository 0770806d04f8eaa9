//! The asset catalogue as the API sees it: one "asset or 404", the purchase
//! rules (minimum quantity, allowed regions), keyset pages.

use super::{App, AppError};
use crate::domain::{AssetId, CountryCode, Quantity};
use crate::store::assets::Asset;

/// One page of the catalogue, by ascending `asset_id`.
pub struct AssetPage {
    pub assets: Vec<Asset>,
    /// Whether assets follow the last one of this page.
    pub more: bool,
}

/// The purchase rules of an asset: minimum quantity and allowed regions.
pub fn check_purchase(
    asset: &Asset,
    quantity: Quantity,
    country: Option<&CountryCode>,
) -> Result<(), AppError> {
    if quantity.get() < asset.min_qty {
        return Err(AppError::QuantityBelowMinimum {
            asset: asset.asset_id,
            quantity: quantity.get(),
            min_qty: asset.min_qty,
        });
    }
    if !asset.countries.allows(country) {
        return Err(AppError::RegionNotAllowed {
            asset: asset.asset_id,
            country: country.cloned(),
            countries: asset.countries.clone(),
        });
    }
    Ok(())
}

impl App {
    /// The asset, or `asset_not_found`.
    pub async fn asset(&self, id: AssetId) -> Result<Asset, AppError> {
        self.store
            .get_asset(id)
            .await?
            .ok_or(AppError::AssetNotFound(id))
    }

    /// Assets after `after`, at most `limit`.
    pub async fn list_assets(&self, after: i64, limit: u64) -> Result<AssetPage, AppError> {
        let mut assets = self
            .store
            .list_assets(after, limit.saturating_add(1))
            .await?;
        let more = assets.len() as u64 > limit;
        assets.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(AssetPage { assets, more })
    }
}
