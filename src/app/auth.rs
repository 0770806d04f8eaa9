//! Who is calling: a presented API token resolved to its vendor and environment.

use super::{App, AppError};
use crate::domain::secrets::hash_presented_api_token;
use crate::domain::{Actor, Tenant, TokenId, VendorStatus};

/// An authenticated vendor backend, bound to one environment by its token.
#[derive(Clone, Copy, Debug)]
pub struct VendorCaller {
    pub tenant: Tenant,
    pub token: TokenId,
}

impl VendorCaller {
    pub fn actor(&self) -> Actor {
        Actor::Vendor(self.token)
    }
}

pub enum Authentication {
    /// Malformed, unknown or revoked: all alike.
    Unknown,
    Suspended,
    Vendor(VendorCaller),
}

impl App {
    pub async fn authenticate_vendor(&self, presented: &str) -> Result<Authentication, AppError> {
        // Obviously bad tokens never reach the database.
        let Some(hash) = hash_presented_api_token(presented) else {
            return Ok(Authentication::Unknown);
        };
        Ok(match self.store.authenticate(&hash).await? {
            None => Authentication::Unknown,
            Some(found) if found.vendor_status == VendorStatus::Suspended => {
                Authentication::Suspended
            }
            Some(found) => Authentication::Vendor(VendorCaller {
                tenant: Tenant {
                    vendor: found.vendor_id,
                    environment: found.environment,
                },
                token: found.token_id,
            }),
        })
    }
}
