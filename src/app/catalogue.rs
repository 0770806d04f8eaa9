//! The asset catalogue as the API sees it: one "asset or 404", the purchase
//! rules (minimum quantity, allowed regions), keyset pages.

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use super::{App, AppError};
use crate::domain::{
    AssetId, AssetStatus, Countries, CountryCode, FileState, Quantity, Role, Sha256Digest, Stamp,
    file_name,
};
use crate::storage::VerifyError;
use crate::storage::{Staged, StoredFile};
use crate::storage::{format_label, sniff_content_type};
use crate::store::assets::{AddAssetError, Asset, AssetChange, AssetFilter, NewAsset};

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

    /// The asset, if it is sold: `asset_not_found`, or `asset_retired`.
    pub async fn asset_for_sale(&self, id: AssetId) -> Result<Asset, AppError> {
        let asset = self.asset(id).await?;
        if asset.status == AssetStatus::Retired {
            return Err(AppError::AssetRetired(id));
        }
        Ok(asset)
    }

    /// The assets `filter` keeps after `after`, at most `limit`.
    pub async fn list_assets(
        &self,
        filter: &AssetFilter,
        after: i64,
        limit: u64,
    ) -> Result<AssetPage, AppError> {
        let mut assets = self
            .store
            .list_assets(filter, after, limit.saturating_add(1))
            .await?;
        let more = assets.len() as u64 > limit;
        assets.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(AssetPage { assets, more })
    }
}

/// An access window is 1 day to 10 years.
fn check_access_days(field: &'static str, days: i32) -> Result<(), AppError> {
    if (1..=3650).contains(&days) {
        Ok(())
    } else {
        Err(AppError::invalid(
            field,
            "must be a number of days from 1 to 3650, or null for no window",
        ))
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
    /// `None`: from the file name's extension (else the MIME subtype).
    pub format: Option<String>,
    /// Each buyer's own stamped copy (SPEC §12).
    pub stamp: Stamp,
    /// Links can be minted for this many days after fulfilment (SPEC §12).
    pub access_days: Option<i32>,
}

/// A file that did not match the catalogue.
#[derive(Debug, Serialize)]
pub struct Problem {
    pub asset_id: AssetId,
    pub sha256: Sha256Digest,
    pub problem: String,
}

impl Problem {
    fn of(asset: Asset, problem: String) -> Self {
        Self {
            asset_id: asset.asset_id,
            sha256: asset.sha256,
            problem,
        }
    }
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

/// What `migrate_storage` did.
#[derive(Debug, Default, Serialize)]
pub struct MigrateReport {
    pub assets: u64,
    /// Copied now, and verified (the digest of the bytes sent is the recorded one).
    pub copied: u64,
    /// Already at the destination, and verified there.
    pub present: u64,
    pub failed: u64,
    pub bytes_copied: u64,
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
    /// Refuses a draft before any byte of its file is stored: the title, the
    /// minimum quantity, a given content type, a given id already taken.
    pub async fn check_draft(&self, draft: &AssetDraft) -> Result<(), AppError> {
        if let Some(days) = draft.access_days {
            check_access_days("access_days", days)?;
        }
        if !(1..=300).contains(&draft.title.trim().chars().count()) {
            return Err(AppError::invalid("title", "must be 1 to 300 characters"));
        }
        if draft.min_qty < 1 {
            return Err(AppError::invalid("min_qty", "must be at least 1"));
        }
        if let Some(ct) = &draft.content_type
            && ct.parse::<mime_guess::mime::Mime>().is_err()
        {
            return Err(AppError::invalid(
                "content_type",
                format!("{ct:?} is not a MIME type"),
            ));
        }
        if let Some(id) = draft.asset_id
            && self.store.get_asset(id).await?.is_some()
        {
            return Err(AppError::AssetExists(id));
        }
        Ok(())
    }

    /// Copies `source` into storage (named by its digest) and records it in
    /// the catalogue; audited as `asset_add`.
    pub async fn import_asset(
        &self,
        by: &super::operators::Auditor,
        source: &Path,
        draft: AssetDraft,
        progress: Arc<dyn Progress>,
    ) -> Result<Asset, AppError> {
        self.check_draft(&draft).await?;
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
        self.add_stored_asset(by.clone(), draft, &stored, original)
            .await
    }

    /// Streams an upload's body into storage under a temporary name of its
    /// own (hashed on the way, bounded memory); [`add_uploaded_asset`]
    /// (Self::add_uploaded_asset) records it once the rest of the request
    /// is known good, and dropping it instead leaves nothing behind.
    pub async fn stage_upload(
        &self,
        by: &super::operators::Auditor,
        body: impl tokio::io::AsyncRead + Unpin,
    ) -> Result<Staged, AppError> {
        by.permit(Role::Admin, "upload assets")?;
        self.storage
            .stage(body, 0, |_, _| {})
            .await
            .map_err(AppError::Internal)
    }

    /// Puts a staged upload at its content address and records it under
    /// `draft` (checked again first: nothing is placed for a refused draft).
    pub async fn add_uploaded_asset(
        &self,
        by: impl Into<super::operators::Auditor>,
        draft: AssetDraft,
        staged: Staged,
        original: &str,
    ) -> Result<Asset, AppError> {
        if staged.file.size_bytes == 0 {
            staged.discard().await;
            return Err(AppError::invalid("file", "is empty"));
        }
        if let Err(e) = self.check_draft(&draft).await {
            staged.discard().await;
            return Err(e);
        }
        let stored = staged.commit().await.map_err(AppError::Internal)?;
        self.add_stored_asset(by, draft, &stored, original).await
    }

    /// Records a stored file in the catalogue under `draft`; audited as
    /// `asset_add`. `original` is the file's own name (for its format label
    /// and the download name's extension).
    pub async fn add_stored_asset(
        &self,
        by: impl Into<super::operators::Auditor>,
        draft: AssetDraft,
        stored: &StoredFile,
        original: &str,
    ) -> Result<Asset, AppError> {
        let by = by.into();
        by.permit(Role::Admin, "add assets")?;
        self.check_draft(&draft).await?;
        let title = draft.title.trim().to_owned();
        let content_type = draft
            .content_type
            .unwrap_or_else(|| sniff_content_type(&stored.head, original));
        let extension = Path::new(original).extension().and_then(|e| e.to_str());
        let new = NewAsset {
            asset_id: draft.asset_id,
            format: draft
                .format
                .unwrap_or_else(|| format_label(original, &content_type)),
            file_name: file_name::from_title(&title, extension),
            title,
            description: draft.description,
            content_type,
            size_bytes: i64::try_from(stored.size_bytes)
                .map_err(|_| AppError::invalid("file", "is too large"))?,
            sha256: stored.sha256.clone(),
            viewable: draft.viewable,
            countries: Countries::new(draft.countries),
            min_qty: draft.min_qty,
            stamp: draft.stamp,
            access_days: draft.access_days,
        };
        if new.stamp == Stamp::Pdf
            && let Err(e) = self.check_stampable(&new.sha256, new.size_bytes).await
        {
            // The file stays only if something else uses it.
            if !self.store.sha256_in_use(&new.sha256).await.unwrap_or(true) {
                let _ = self.storage.remove(&new.sha256).await;
            }
            return Err(e);
        }
        let asset = match self.store.add_asset(new).await {
            Ok(asset) => asset,
            Err(AddAssetError::Exists(id)) => return Err(AppError::AssetExists(id)),
            Err(AddAssetError::Store(e)) => return Err(e.into()),
            Err(e @ AddAssetError::Contended) => return Err(AppError::Internal(e.into())),
        };
        self.audit(
            &by,
            "asset_add",
            format!("asset {}", asset.asset_id),
            serde_json::json!({"title": asset.title, "sha256": asset.sha256, "size_bytes": asset.size_bytes, "stamp": asset.stamp}),
        )
        .await;
        Ok(asset)
    }

    /// Changes what an operator may change of an asset (never its file);
    /// retiring is `status: RETIRED`. Audited as `asset_change`.
    pub async fn change_asset(
        &self,
        by: impl Into<super::operators::Auditor>,
        id: AssetId,
        change: AssetChange,
    ) -> Result<Asset, AppError> {
        let by = by.into();
        by.permit(Role::Admin, "edit assets")?;
        if let Some(title) = &change.title
            && !(1..=300).contains(&title.trim().chars().count())
        {
            return Err(AppError::invalid("title", "must be 1 to 300 characters"));
        }
        if change.min_qty.is_some_and(|q| q < 1) {
            return Err(AppError::invalid("min_qty", "must be at least 1"));
        }
        if let Some(Some(days)) = change.access_days {
            check_access_days("policies.access_days", days)?;
        }
        if let Some(stamp) = change.stamp {
            let asset = self.asset(id).await?;
            if stamp != asset.stamp {
                let sold = self.store.line_counts(&[id]).await?;
                if sold.get(&id).copied().unwrap_or(0) > 0 {
                    return Err(AppError::StampLocked(id));
                }
                if stamp == Stamp::Pdf {
                    self.check_stampable(&asset.sha256, asset.size_bytes)
                        .await?;
                }
            }
        }
        let summary = serde_json::json!({
            "title": change.title,
            "status": change.status,
            "viewable": change.viewable,
            "min_qty": change.min_qty,
            "stamp": change.stamp,
            "access_days": change.access_days,
        });
        let asset = self
            .store
            .update_asset(id, change)
            .await?
            .ok_or(AppError::AssetNotFound(id))?;
        self.audit(&by, "asset_change", format!("asset {id}"), summary)
            .await;
        Ok(asset)
    }

    /// One asset for operators, with the number of lines it was sold in.
    pub async fn catalogue_entry(&self, id: AssetId) -> Result<(Asset, i64), AppError> {
        let asset = self.asset(id).await?;
        let lines = self.store.line_counts(&[id]).await?;
        Ok((asset, lines.get(&id).copied().unwrap_or(0)))
    }

    /// A page of the catalogue for operators: each asset with the number of
    /// lines it was sold in.
    pub async fn catalogue(
        &self,
        filter: &AssetFilter,
        after: i64,
        limit: u64,
    ) -> Result<(Vec<(Asset, i64)>, bool), AppError> {
        let page = self.list_assets(filter, after, limit).await?;
        let ids: Vec<AssetId> = page.assets.iter().map(|a| a.asset_id).collect();
        let counts = self.store.line_counts(&ids).await?;
        let rows = page
            .assets
            .into_iter()
            .map(|a| {
                let n = counts.get(&a.asset_id).copied().unwrap_or(0);
                (a, n)
            })
            .collect();
        Ok((rows, page.more))
    }

    /// Copies every asset file from `from` (the local folder) into this
    /// app's storage (the bucket), verifying each sha256: a file already at
    /// the destination is re-hashed there and kept when intact, replaced when
    /// not; a copy is hashed on the way and must give the recorded digest.
    /// Idempotent: run it again after an interruption and it copies what is
    /// still missing. A local file that is missing or altered is reported and
    /// never stored under its recorded address.
    pub async fn migrate_storage(
        &self,
        from: &crate::storage::Storage,
        progress: Arc<dyn Progress>,
    ) -> Result<MigrateReport, AppError> {
        let mut report = MigrateReport::default();
        self.each_asset(progress.as_ref(), async |asset| {
            report.assets += 1;
            progress.file(report.assets);
            let size = u64::try_from(asset.size_bytes).unwrap_or(0);
            match self.migrate_one(from, &asset, size, progress.clone()).await {
                Ok(true) => {
                    report.copied += 1;
                    report.bytes_copied += size;
                }
                Ok(false) => report.present += 1,
                Err(problem) => {
                    report.failed += 1;
                    report.problems.push(Problem::of(asset, problem));
                }
            }
            Ok(())
        })
        .await?;
        Ok(report)
    }

    /// Runs `each` on every asset of the catalogue, page by page (bounded
    /// memory), once `progress` knows the totals.
    async fn each_asset(
        &self,
        progress: &dyn Progress,
        mut each: impl AsyncFnMut(Asset) -> Result<(), AppError>,
    ) -> Result<(), AppError> {
        let (count, total) = self.store.asset_totals().await?;
        progress.start(total, count);
        let mut after = 0;
        loop {
            let page = self
                .store
                .list_assets(&AssetFilter::default(), after, VERIFY_PAGE)
                .await?;
            let Some(last) = page.last() else {
                return Ok(());
            };
            after = last.asset_id.get();
            for asset in page {
                each(asset).await?;
            }
        }
    }

    /// `Ok(true)`: copied; `Ok(false)`: already there, intact.
    async fn migrate_one(
        &self,
        from: &crate::storage::Storage,
        asset: &Asset,
        size: u64,
        progress: Arc<dyn Progress>,
    ) -> Result<bool, String> {
        let sha = &asset.sha256;
        match self.storage.size_of(sha).await {
            Ok(Some(_)) => {
                let shown = progress.clone();
                match self
                    .storage
                    .verify_with(sha, size, move |n| shown.bytes(n))
                    .await
                {
                    Ok(()) => return Ok(false),
                    Err(VerifyError::WrongSize { .. } | VerifyError::WrongDigest) => {
                        // A damaged copy at the destination: replaced below.
                        self.storage
                            .remove(sha)
                            .await
                            .map_err(|e| format!("{e:#}"))?;
                    }
                    Err(e) => return Err(format!("at the destination: {e}")),
                }
            }
            Ok(None) => {}
            Err(e) => return Err(format!("at the destination: {e}")),
        }
        let input = from
            .open_local(sha)
            .await
            .map_err(|e| format!("the local file: {e:#}"))?;
        let mut shown = 0;
        let staged = self
            .storage
            .stage(input, size, move |copied, _| {
                progress.bytes(copied - shown);
                shown = copied;
            })
            .await
            .map_err(|e| format!("copying: {e:#}"))?;
        let read = staged.file.clone();
        if read.sha256 != *sha || read.size_bytes != size {
            staged.discard().await;
            return Err(format!(
                "the local file is altered ({} bytes, sha256 {}); not copied",
                read.size_bytes, read.sha256
            ));
        }
        staged
            .commit()
            .await
            .map_err(|e| format!("copying: {e:#}"))?;
        Ok(true)
    }

    /// Re-hashes every asset file against the catalogue, page by page and
    /// chunk by chunk (bounded memory), and records what it found of each
    /// file for the console (`ok`, `missing`, `altered`).
    pub async fn verify_storage(
        &self,
        progress: Arc<dyn Progress>,
    ) -> Result<VerifyReport, AppError> {
        let mut report = VerifyReport::default();
        self.each_asset(progress.as_ref(), async |asset| {
            progress.file(report.checked + 1);
            let size = u64::try_from(asset.size_bytes).unwrap_or(0);
            let shown = progress.clone();
            let result = self
                .storage
                .verify_with(&asset.sha256, size, move |n| shown.bytes(n))
                .await;
            report.checked += 1;
            report.bytes += size;
            // What the console shows; a store that could not be read says nothing.
            let state = match &result {
                Ok(()) => Some(FileState::Ok),
                Err(VerifyError::Missing) => Some(FileState::Missing),
                Err(VerifyError::WrongSize { .. } | VerifyError::WrongDigest) => {
                    Some(FileState::Altered)
                }
                Err(VerifyError::Unreadable | VerifyError::Unavailable) => None,
            };
            if let Some(state) = state {
                self.store.record_file_state(asset.asset_id, state).await?;
            }
            match result {
                Ok(()) => report.ok += 1,
                Err(e) => {
                    report.failed += 1;
                    report.problems.push(Problem::of(asset, e.to_string()));
                }
            }
            Ok(())
        })
        .await?;
        Ok(report)
    }
}
