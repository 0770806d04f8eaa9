//! The asset catalogue.

use sea_orm::sea_query::{Expr, ExprTrait as _, Func, LikeExpr};
use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, EntityTrait as _, QueryFilter as _,
    QueryOrder as _, QuerySelect as _,
};

use std::collections::HashMap;

use super::entities::{assets, order_lines};
use super::{Op as _, Store, StoreError};
use crate::domain::{AssetId, AssetStatus, Countries, FileState, Sha256Digest, Stamp, now_ms};

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
    pub stamp: Stamp,
    pub access_days: Option<i32>,
}

/// Which assets a listing keeps.
#[derive(Clone, Debug, Default)]
pub struct AssetFilter {
    pub status: Option<AssetStatus>,
    /// A piece of the title or file name, a sha256 prefix, or an asset id.
    pub text: Option<String>,
}

impl AssetFilter {
    /// The assets that are sold.
    pub fn for_sale() -> Self {
        Self {
            status: Some(AssetStatus::Active),
            text: None,
        }
    }
}

/// What an operator changes of an asset (`None`: unchanged). The file never changes.
#[derive(Clone, Debug, Default)]
pub struct AssetChange {
    pub title: Option<String>,
    pub description: Option<Option<String>>,
    pub viewable: Option<bool>,
    pub countries: Option<Countries>,
    pub min_qty: Option<i32>,
    pub status: Option<AssetStatus>,
    pub stamp: Option<Stamp>,
    /// `Some(None)` clears it.
    pub access_days: Option<Option<i32>>,
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
                status: Set(AssetStatus::Active),
                file_state: Set(FileState::Ok),
                file_checked_at_ms: Set(Some(now_ms())),
                stamp: Set(new.stamp),
                access_days: Set(new.access_days),
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

    /// Keyset page: the assets `filter` keeps with `asset_id > after`,
    /// ascending, at most `limit`.
    pub async fn list_assets(
        &self,
        filter: &AssetFilter,
        after: i64,
        limit: u64,
    ) -> Result<Vec<Asset>, StoreError> {
        let mut query = assets::Entity::find().filter(assets::Column::AssetId.gt(after));
        if let Some(status) = filter.status {
            query = query.filter(assets::Column::Status.eq(status));
        }
        if let Some(q) = filter
            .text
            .as_deref()
            .map(str::trim)
            .filter(|q| !q.is_empty())
        {
            let lower = q.to_lowercase();
            let like = |column: assets::Column| {
                Expr::expr(Func::lower(Expr::col(column)))
                    .like(LikeExpr::new(super::search::contains(&lower)).escape('\\'))
            };
            let mut any = sea_orm::Condition::any()
                .add(like(assets::Column::Title))
                .add(like(assets::Column::FileName))
                .add(assets::Column::Sha256.starts_with(&lower));
            if let Ok(id) = q.trim_start_matches('#').parse::<i64>() {
                any = any.add(assets::Column::AssetId.eq(id));
            }
            query = query.filter(any);
        }
        query
            .order_by_asc(assets::Column::AssetId)
            .limit(limit)
            .all(self.conn())
            .await
            .op("listing assets")
    }

    /// How many order lines each of these assets was sold in.
    pub async fn line_counts(&self, ids: &[AssetId]) -> Result<HashMap<AssetId, i64>, StoreError> {
        let rows: Vec<(AssetId, i64)> = order_lines::Entity::find()
            .select_only()
            .column(order_lines::Column::AssetId)
            .column_as(Expr::cust("COUNT(*)"), "n")
            .filter(order_lines::Column::AssetId.is_in(ids.to_vec()))
            .group_by(order_lines::Column::AssetId)
            .into_tuple()
            .all(self.conn())
            .await
            .op("counting the lines of assets")?;
        Ok(rows.into_iter().collect())
    }

    /// Applies `change` to the asset; `None` when there is no such asset.
    pub async fn update_asset(
        &self,
        id: AssetId,
        change: AssetChange,
    ) -> Result<Option<Asset>, StoreError> {
        let op = "changing an asset";
        let Some(asset) = self.get_asset(id).await? else {
            return Ok(None);
        };
        let mut model: assets::ActiveModel = asset.into();
        if let Some(title) = change.title {
            model.title = Set(title);
        }
        if let Some(description) = change.description {
            model.description = Set(description);
        }
        if let Some(viewable) = change.viewable {
            model.viewable = Set(viewable);
        }
        if let Some(countries) = change.countries {
            model.countries = Set(countries);
        }
        if let Some(min_qty) = change.min_qty {
            model.min_qty = Set(min_qty);
        }
        if let Some(status) = change.status {
            model.status = Set(status);
        }
        if let Some(stamp) = change.stamp {
            model.stamp = Set(stamp);
        }
        if let Some(days) = change.access_days {
            model.access_days = Set(days);
        }
        model.update(self.conn()).await.op(op).map(Some)
    }

    /// Whether a stored file is still needed: an asset's file, or a line's
    /// copy that was not removed.
    pub async fn sha256_in_use(&self, sha256: &Sha256Digest) -> Result<bool, StoreError> {
        let op = "checking whether a stored file is used";
        let asset = assets::Entity::find()
            .filter(assets::Column::Sha256.eq(sha256.clone()))
            .one(self.conn())
            .await
            .op(op)?;
        if asset.is_some() {
            return Ok(true);
        }
        let copy = super::entities::order_lines::Entity::find()
            .filter(super::entities::order_lines::Column::CopySha256.eq(sha256.clone()))
            .filter(super::entities::order_lines::Column::CopyRemovedAtMs.is_null())
            .one(self.conn())
            .await
            .op(op)?;
        Ok(copy.is_some())
    }

    /// Records what `storage verify` found of the asset's file.
    pub async fn record_file_state(&self, id: AssetId, state: FileState) -> Result<(), StoreError> {
        assets::Entity::update_many()
            .col_expr(assets::Column::FileState, Expr::value(state))
            .col_expr(assets::Column::FileCheckedAtMs, Expr::value(now_ms()))
            .filter(assets::Column::AssetId.eq(id))
            .exec(self.conn())
            .await
            .op("recording a file's state")
            .map(|_| ())
    }
}
