//! The asset catalogue as the API sees it: one "asset or 404", the purchase
//! rules (minimum quantity, allowed regions), keyset pages.

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use super::{App, AppError};
use crate::domain::{AssetId, Countries, CountryCode, Quantity, Sha256Digest, file_name};
use crate::storage::{format_label, sniff_content_type};
use crate::store::assets::{AddAssetError, Asset, NewAsset};

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

/// What an operator says of a file being added to the catalogue.
#[derive(Clone, Debug)]
pub struct AssetDraft {
    /// `None`: the next free id.
    pub asset_id: Option<AssetId>,
    pub title: String,
    pub description: Option<String>,
    pub viewable: bool,
    pub countries: Vec<CountryCode>,
    pub min_qty: i32,
    /// `None`: sniffed from the file.
    pub content_type: Option<String>,
}

/// A file that did not match the catalogue.
#[derive(Debug, Serialize)]
pub struct Problem {
    pub asset_id: AssetId,
    pub sha256: Sha256Digest,
    pub problem: String,
}

/// What `verify_storage` found.
#[derive(Debug, Default, Serialize)]
pub struct VerifyReport {
    pub checked: u64,
    pub ok: u64,
    pub failed: u64,
    pub bytes: u64,
    pub problems: Vec<Problem>,
}

/// How a long catalogue operation (import, verify) reports its progress:
/// the total, then each file it starts and the bytes it gets through.
pub trait Progress: Send + Sync + 'static {
    fn start(&self, _total_bytes: u64, _files: u64) {}
    fn file(&self, _index: u64) {}
    fn bytes(&self, _done: u64) {}
}

/// No progress shown.
impl Progress for () {}

/// Assets re-hashed per page of the catalogue.
const VERIFY_PAGE: u64 = 100;

impl App {
    /// Copies `source` into storage (named by its digest) and records it in
    /// the catalogue; audited as `asset_add`.
    pub async fn import_asset(
        &self,
        by: &super::operators::Auditor,
        source: &Path,
        draft: AssetDraft,
        progress: Arc<dyn Progress>,
    ) -> Result<Asset, AppError> {
        let title = draft.title.trim().to_owned();
        if !(1..=300).contains(&title.chars().count()) {
            return Err(AppError::invalid("title", "must be 1 to 300 characters"));
        }
        if draft.min_qty < 1 {
            return Err(AppError::invalid("min_qty", "must be at least 1"));
        }
        if !source.is_file() {
            return Err(AppError::invalid(
                "file",
                format!("{} is not a readable file", source.display()),
            ));
        }
        let mut shown = 0;
        let stored = self
            .storage
            .import_file(source, move |copied, total| {
                if shown == 0 {
                    progress.start(total, 1);
                }
                progress.bytes(copied - shown);
                shown = copied;
            })
            .await
            .map_err(AppError::Internal)?;
        let original = source
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("asset");
        let content_type = draft
            .content_type
            .unwrap_or_else(|| sniff_content_type(&stored.head, original));
        if content_type.parse::<mime_guess::mime::Mime>().is_err() {
            return Err(AppError::invalid(
                "content_type",
                format!("{content_type:?} is not a MIME type"),
            ));
        }
        let new = NewAsset {
            asset_id: draft.asset_id,
            format: format_label(original, &content_type),
            file_name: file_name::from_title(&title, source.extension().and_then(|e| e.to_str())),
            title,
            description: draft.description,
            content_type,
            size_bytes: i64::try_from(stored.size_bytes)
                .map_err(|_| AppError::invalid("file", "is too large"))?,
            sha256: stored.sha256,
            viewable: draft.viewable,
            countries: Countries::new(draft.countries),
            min_qty: draft.min_qty,
        };
        let asset = match self.store.add_asset(new).await {
            Ok(asset) => asset,
            Err(AddAssetError::Exists(id)) => return Err(AppError::AssetExists(id)),
            Err(AddAssetError::Store(e)) => return Err(e.into()),
            Err(e @ AddAssetError::Contended) => return Err(AppError::Internal(e.into())),
        };
        self.audit(
            by,
            "asset_add",
            format!("asset {}", asset.asset_id),
            serde_json::json!({"title": asset.title, "sha256": asset.sha256, "size_bytes": asset.size_bytes}),
        )
        .await;
        Ok(asset)
    }

    /// Re-hashes every asset file against the catalogue, page by page and
    /// chunk by chunk (bounded memory).
    pub async fn verify_storage(
        &self,
        progress: Arc<dyn Progress>,
    ) -> Result<VerifyReport, AppError> {
        let (count, total) = self.store.asset_totals().await?;
        progress.start(total, count);
        let mut report = VerifyReport::default();
        let mut after = 0;
        loop {
            let page = self.store.list_assets(after, VERIFY_PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.asset_id.get();
            for asset in page {
                progress.file(report.checked + 1);
                let size = u64::try_from(asset.size_bytes).unwrap_or(0);
                let shown = progress.clone();
                let result = self
                    .storage
                    .verify_with(&asset.sha256, size, move |n| shown.bytes(n))
                    .await;
                report.checked += 1;
                report.bytes += size;
                match result {
                    Ok(()) => report.ok += 1,
                    Err(e) => {
                        report.failed += 1;
                        report.problems.push(Problem {
                            asset_id: asset.asset_id,
                            sha256: asset.sha256,
                            problem: e.to_string(),
                        });
                    }
                }
            }
        }
        Ok(report)
    }
}
