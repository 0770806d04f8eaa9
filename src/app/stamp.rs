//! Each buyer's own copy of a `stamp = pdf` asset (SPEC §12), made once per
//! line at fulfilment, off the async runtime, a bounded number at a time.

use tokio::sync::Semaphore;

use super::{App, AppError};
use crate::domain::Sha256Digest;
use crate::stamping::{Licence, StampError, stamp};
use crate::storage::{StoredFile, VerifyError};
use crate::store::assets::Asset;
use crate::store::orders::OrderLine;

/// How copies are made: the footer's template, the largest original
/// stamped (it is held in memory), and how many at once per instance.
#[derive(Debug)]
pub struct Stamper {
    pub template: String,
    pub max_bytes: u64,
    slots: Semaphore,
}

impl Stamper {
    pub fn new(template: String, max_bytes: u64, concurrency: usize) -> Self {
        Self {
            template,
            max_bytes,
            slots: Semaphore::new(concurrency.max(1)),
        }
    }
}

/// Why a line's copy was not made.
#[derive(Debug)]
pub enum CopyError {
    /// The file cannot be stamped: the line fails (`stamping_failed`).
    Unstampable(String),
    /// The original could not be read now: try again later.
    Storage(VerifyError),
    /// The copy could not be stored (the store refused): try again later.
    Store(String),
}

impl App {
    /// Makes and stores `line`'s stamped copy of `asset`.
    pub(super) async fn make_copy(
        &self,
        line: &OrderLine,
        asset: &Asset,
    ) -> Result<StoredFile, CopyError> {
        let size = u64::try_from(asset.size_bytes).unwrap_or(0);
        if size > self.stamper.max_bytes {
            return Err(CopyError::Unstampable(format!(
                "the file has {size} bytes, more than stamping.max_bytes ({})",
                self.stamper.max_bytes
            )));
        }
        let vendor = self
            .store
            .get_vendor(line.vendor_id)
            .await
            .map_err(|e| CopyError::Store(e.to_string()))?
            .map_or_else(|| line.vendor_id.to_string(), |v| v.name);
        let original = self
            .storage
            .read_whole(&asset.sha256, size)
            .await
            .map_err(CopyError::Storage)?;
        let customer = line.customer.as_str().to_owned();
        let date = chrono::Utc::now().format("%Y-%m-%d").to_string();
        let (order_id, order_line_id) = (line.order_number.get(), line.order_line_id.get());
        let template = self.stamper.template.clone();
        let copy = {
            let _slot = self
                .stamper
                .slots
                .acquire()
                .await
                .map_err(|e| CopyError::Store(e.to_string()))?;
            tokio::task::spawn_blocking(move || {
                let licence = Licence {
                    customer: &customer,
                    vendor: &vendor,
                    order_id,
                    order_line_id,
                    date: &date,
                };
                stamp(&original, &licence.footer(&template), &licence)
            })
            .await
            .map_err(|e| CopyError::Store(e.to_string()))?
            .map_err(|e| CopyError::Unstampable(e.to_string()))?
        };
        self.storage
            .put_bytes(copy)
            .await
            .map_err(|e| CopyError::Store(format!("{e:#}")))
    }

    /// Whether the file can be stamped: tried once with a sample licence
    /// when an operator sets `stamp = pdf` (422 `stamping_unsupported`).
    pub(super) async fn check_stampable(
        &self,
        sha256: &Sha256Digest,
        size_bytes: i64,
    ) -> Result<(), AppError> {
        let size = u64::try_from(size_bytes).unwrap_or(0);
        if size > self.stamper.max_bytes {
            return Err(AppError::StampingUnsupported {
                reason: format!(
                    "the file has {size} bytes, more than stamping.max_bytes ({})",
                    self.stamper.max_bytes
                ),
            });
        }
        let original = self
            .storage
            .read_whole(sha256, size)
            .await
            .map_err(|e| match e {
                e if e.is_transient() => AppError::StorageUnavailable,
                e => AppError::StampingUnsupported {
                    reason: e.to_string(),
                },
            })?;
        let template = self.stamper.template.clone();
        let _slot = self
            .stamper
            .slots
            .acquire()
            .await
            .map_err(AppError::internal)?;
        let tried = tokio::task::spawn_blocking(move || {
            let licence = Licence {
                customer: "Sample Buyer",
                vendor: "Sample Shop",
                order_id: 1,
                order_line_id: 1,
                date: "2026-01-01",
            };
            stamp(&original, &licence.footer(&template), &licence).map(drop)
        })
        .await
        .map_err(AppError::internal)?;
        tried.map_err(|e: StampError| AppError::StampingUnsupported {
            reason: e.to_string(),
        })
    }
}
