use sea_orm::{ActiveModelTrait as _, ActiveValue::Set, DbErr, EntityTrait as _};
use serde::Serialize;

use super::Store;
use super::entities::vendors;
use crate::domain::{VendorId, VendorStatus, now_ms};

#[derive(Clone, Debug, Serialize)]
pub struct Vendor {
    pub vendor_id: VendorId,
    pub name: String,
    pub status: VendorStatus,
}

impl TryFrom<vendors::Model> for Vendor {
    type Error = DbErr;
    fn try_from(m: vendors::Model) -> Result<Self, DbErr> {
        Ok(Self {
            vendor_id: VendorId::parse(&m.id).map_err(|e| DbErr::Custom(e.to_string()))?,
            name: m.name,
            status: m
                .status
                .parse()
                .map_err(|e: crate::domain::ValueError| DbErr::Custom(e.to_string()))?,
        })
    }
}

impl Store {
    #[tracing::instrument(skip_all)]
    pub async fn create_vendor(&self, name: &str) -> Result<Vendor, DbErr> {
        let now = now_ms();
        let model = vendors::ActiveModel {
            id: Set(VendorId::new().to_string()),
            name: Set(name.to_owned()),
            status: Set(VendorStatus::Active.as_str().to_owned()),
            created_at_ms: Set(now),
            updated_at_ms: Set(now),
        }
        .insert(self.conn())
        .await?;
        model.try_into()
    }

    pub async fn get_vendor(&self, id: VendorId) -> Result<Option<Vendor>, DbErr> {
        vendors::Entity::find_by_id(id.to_string())
            .one(self.conn())
            .await?
            .map(Vendor::try_from)
            .transpose()
    }

    #[tracing::instrument(skip_all, fields(vendor_id = %id))]
    pub async fn set_vendor_status(
        &self,
        id: VendorId,
        status: VendorStatus,
    ) -> Result<Option<Vendor>, DbErr> {
        let Some(model) = vendors::Entity::find_by_id(id.to_string())
            .one(self.conn())
            .await?
        else {
            return Ok(None);
        };
        let mut active: vendors::ActiveModel = model.into();
        active.status = Set(status.as_str().to_owned());
        active.updated_at_ms = Set(now_ms());
        active.update(self.conn()).await?.try_into().map(Some)
    }
}
