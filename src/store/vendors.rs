//! Vendors (shops).

use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, EntityTrait as _, QueryFilter as _,
    QueryOrder as _, sea_query::Expr,
};

use super::entities::vendors;
use super::{Op as _, Store, StoreError};
use crate::domain::{VendorId, VendorStatus, now_ms};

/// A vendor (shop).
pub use super::entities::vendors::Model as Vendor;

impl Store {
    #[tracing::instrument(skip_all)]
    pub async fn create_vendor(&self, name: &str) -> Result<Vendor, StoreError> {
        let now = now_ms();
        vendors::ActiveModel {
            vendor_id: Set(VendorId::new()),
            name: Set(name.to_owned()),
            status: Set(VendorStatus::Active),
            created_at_ms: Set(now),
            updated_at_ms: Set(now),
        }
        .insert(self.conn())
        .await
        .op("creating a vendor")
    }

    pub async fn get_vendor(&self, id: VendorId) -> Result<Option<Vendor>, StoreError> {
        vendors::Entity::find_by_id(id)
            .one(self.conn())
            .await
            .op("loading a vendor")
    }

    /// Every vendor, by name.
    pub async fn list_vendors(&self) -> Result<Vec<Vendor>, StoreError> {
        vendors::Entity::find()
            .order_by_asc(vendors::Column::Name)
            .all(self.conn())
            .await
            .op("listing vendors")
    }

    /// Sets a vendor's status; `None` when the vendor does not exist.
    #[tracing::instrument(skip_all, fields(vendor_id = %id))]
    pub async fn set_vendor_status(
        &self,
        id: VendorId,
        status: VendorStatus,
    ) -> Result<Option<Vendor>, StoreError> {
        vendors::Entity::update_many()
            .col_expr(vendors::Column::Status, Expr::value(status))
            .col_expr(vendors::Column::UpdatedAtMs, Expr::value(now_ms()))
            .filter(vendors::Column::VendorId.eq(id))
            .exec(self.conn())
            .await
            .op("changing a vendor's status")?;
        self.get_vendor(id).await
    }
}
