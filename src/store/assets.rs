use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, DbErr, EntityTrait as _,
    QueryFilter as _, QueryOrder as _, QuerySelect as _,
};
use serde::Serialize;

use super::Store;
use super::entities::assets;
use crate::domain::{AssetId, CountryCode, now_ms};

/// `AssetItem` on the wire (SPEC §4), plus the stored file name.
#[derive(Clone, Debug, Serialize)]
pub struct Asset {
    pub asset_id: AssetId,
    pub title: String,
    pub description: Option<String>,
    pub format: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub viewable: bool,
    pub countries: Vec<String>,
    /// Sellable everywhere (no country restriction).
    pub world: bool,
    pub min_qty: i32,
    #[serde(skip)]
    pub file_name: String,
}

impl Asset {
    /// Whether a buyer in `country` may buy it; an unknown country only passes for world assets.
    pub fn allows_country(&self, country: Option<&CountryCode>) -> bool {
        self.world || country.is_some_and(|c| self.countries.iter().any(|a| a == c.as_str()))
    }
}

impl From<assets::Model> for Asset {
    fn from(m: assets::Model) -> Self {
        let countries: Vec<String> = m
            .countries
            .split(',')
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect();
        Self {
            asset_id: AssetId::from_db(m.asset_id),
            title: m.title,
            description: m.description,
            format: m.format,
            content_type: m.content_type,
            size_bytes: m.size_bytes,
            sha256: m.sha256,
            viewable: m.viewable,
            world: countries.is_empty(),
            countries,
            min_qty: m.min_qty,
            file_name: m.file_name,
        }
    }
}

/// What `asset add` records once the file is in storage.
#[derive(Clone, Debug)]
pub struct NewAsset {
    pub asset_id: Option<AssetId>,
    pub title: String,
    pub description: Option<String>,
    pub format: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub viewable: bool,
    pub countries: Vec<CountryCode>,
    pub min_qty: i32,
    pub file_name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AddAssetError {
    #[error("asset_id {0} already exists")]
    Exists(AssetId),
    #[error(transparent)]
    Db(#[from] DbErr),
}

impl Store {
    #[tracing::instrument(skip_all)]
    pub async fn add_asset(&self, new: NewAsset) -> Result<Asset, AddAssetError> {
        // Without an explicit id, take the next one; retry if a concurrent add took it.
        for _ in 0..5 {
            let id = match new.asset_id {
                Some(id) => id.get(),
                None => self.max_asset_id().await? + 1,
            };
            let model = assets::ActiveModel {
                asset_id: Set(id),
                title: Set(new.title.clone()),
                description: Set(new.description.clone()),
                format: Set(new.format.clone()),
                content_type: Set(new.content_type.clone()),
                size_bytes: Set(new.size_bytes),
                sha256: Set(new.sha256.clone()),
                viewable: Set(new.viewable),
                countries: Set(new
                    .countries
                    .iter()
                    .map(CountryCode::as_str)
                    .collect::<Vec<_>>()
                    .join(",")),
                min_qty: Set(new.min_qty),
                file_name: Set(new.file_name.clone()),
                created_at_ms: Set(now_ms()),
            };
            match model.insert(self.conn()).await {
                Ok(m) => return Ok(m.into()),
                Err(e) if super::is_unique_violation(&e) => {
                    if new.asset_id.is_some() {
                        return Err(AddAssetError::Exists(AssetId::from_db(id)));
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(DbErr::Custom("could not allocate an asset_id; try again".into()).into())
    }

    async fn max_asset_id(&self) -> Result<i64, DbErr> {
        Ok(assets::Entity::find()
            .order_by_desc(assets::Column::AssetId)
            .one(self.conn())
            .await?
            .map_or(0, |m| m.asset_id))
    }

    pub async fn get_asset(&self, id: AssetId) -> Result<Option<Asset>, DbErr> {
        Ok(assets::Entity::find_by_id(id.get())
            .one(self.conn())
            .await?
            .map(Asset::from))
    }

    pub async fn get_assets(&self, ids: &[i64]) -> Result<Vec<Asset>, DbErr> {
        Ok(assets::Entity::find()
            .filter(assets::Column::AssetId.is_in(ids.iter().copied()))
            .all(self.conn())
            .await?
            .into_iter()
            .map(Asset::from)
            .collect())
    }

    /// Keyset page: assets with `asset_id > after`, ascending, at most `limit`.
    pub async fn list_assets(&self, after: i64, limit: u64) -> Result<Vec<Asset>, DbErr> {
        Ok(assets::Entity::find()
            .filter(assets::Column::AssetId.gt(after))
            .order_by_asc(assets::Column::AssetId)
            .limit(limit)
            .all(self.conn())
            .await?
            .into_iter()
            .map(Asset::from)
            .collect())
    }
}
