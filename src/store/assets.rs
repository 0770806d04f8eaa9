//! The asset catalogue.

use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, EntityTrait as _, QueryFilter as _,
    QueryOrder as _, QuerySelect as _, sea_query::Expr,
};

use super::entities::assets;
use super::{Op as _, Store, StoreError};
use crate::domain::{AssetId, Countries, Sha256Digest, now_ms};

/// One asset of the catalogue.
pub use super::entities::assets::Model as Asset;

/// What `asset add` records once the file is in storage.
#[derive(Clone, Debug)]
pub struct NewAsset {
    pub asset_id: Option<AssetId>,
    pub title: String,
    pub description: Option<String>,
    pub format: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: Sha256Digest,
    pub viewable: bool,
    pub countries: Countries,
    pub min_qty: i32,
    pub file_name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AddAssetError {
    #[error("asset_id {0} already exists")]
    Exists(AssetId),
    #[error("could not allocate an asset_id; try again")]
    Contended,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    #[tracing::instrument(skip_all)]
    pub async fn add_asset(&self, new: NewAsset) -> Result<Asset, AddAssetError> {
        // Without an explicit id, take the next one; retry if a concurrent add took it.
        for _ in 0..5 {
            let id = match new.asset_id {
                Some(id) => id,
                None => self.next_asset_id().await?,
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
                countries: Set(new.countries.clone()),
                min_qty: Set(new.min_qty),
                file_name: Set(new.file_name.clone()),
                created_at_ms: Set(now_ms()),
            };
            match model.insert(self.conn()).await {
                Ok(_) => {
                    return self.get_asset(id).await?.ok_or(AddAssetError::Contended);
                }
                Err(e) if super::is_unique_violation(&e) => {
                    if new.asset_id.is_some() {
                        return Err(AddAssetError::Exists(id));
                    }
                }
                Err(e) => return Err(StoreError::from_db("adding an asset", e).into()),
            }
        }
        Err(AddAssetError::Contended)
    }

    async fn next_asset_id(&self) -> Result<AssetId, StoreError> {
        let max: Option<AssetId> = assets::Entity::find()
            .select_only()
            .column(assets::Column::AssetId)
            .order_by_desc(assets::Column::AssetId)
            .into_tuple()
            .one(self.conn())
            .await
            .op("finding the next asset id")?;
        AssetId::parse(max.map_or(0, AssetId::get) + 1).map_err(|e| StoreError::Corrupt {
            op: "finding the next asset id",
            detail: e.to_string(),
        })
    }

    pub async fn get_asset(&self, id: AssetId) -> Result<Option<Asset>, StoreError> {
        assets::Entity::find_by_id(id)
            .one(self.conn())
            .await
            .op("loading an asset")
    }

    pub async fn get_assets(&self, ids: &[AssetId]) -> Result<Vec<Asset>, StoreError> {
        assets::Entity::find()
            .filter(assets::Column::AssetId.is_in(ids.to_vec()))
            .all(self.conn())
            .await
            .op("loading assets")
    }

    /// How many assets there are, and their total size in bytes.
    pub async fn asset_totals(&self) -> Result<(u64, u64), StoreError> {
        let op = "counting assets";
        let (count, bytes): (i64, i64) = assets::Entity::find()
            .select_only()
            .column_as(Expr::cust("COUNT(*)"), "n")
            // SUM(BIGINT) is NUMERIC on PostgreSQL.
            .column_as(
                Expr::cust("CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT)"),
                "bytes",
            )
            .into_tuple()
            .one(self.conn())
            .await
            .op(op)?
            .unwrap_or((0, 0));
        Ok((
            u64::try_from(count).unwrap_or(0),
            u64::try_from(bytes).unwrap_or(0),
        ))
    }

    /// Keyset page: assets with `asset_id > after`, ascending, at most `limit`.
    pub async fn list_assets(&self, after: i64, limit: u64) -> Result<Vec<Asset>, StoreError> {
        assets::Entity::find()
            .filter(assets::Column::AssetId.gt(after))
            .order_by_asc(assets::Column::AssetId)
            .limit(limit)
            .all(self.conn())
            .await
            .op("listing assets")
    }
}
