//! `assetgate storage verify`: re-hashes every asset file against the
//! catalogue, page by page and chunk by chunk (bounded memory), with a
//! progress bar on stderr.

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::config::Settings;
use crate::domain::{AssetId, Sha256Digest};
use crate::storage::Storage;
use crate::store::Store;

const PAGE: u64 = 100;

#[derive(Debug, Serialize)]
pub struct Problem {
    pub asset_id: AssetId,
    pub sha256: Sha256Digest,
    pub problem: String,
}

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub checked: u64,
    pub ok: u64,
    pub failed: u64,
    pub bytes: u64,
    pub problems: Vec<Problem>,
}

pub async fn verify(store: &Store, settings: &Settings) -> anyhow::Result<Report> {
    let storage = Storage::open(&settings.storage.path)?;
    let (count, total) = store.asset_totals().await?;
    let bar = ProgressBar::new(total).with_style(
        ProgressStyle::with_template(
            "{spinner} verifying {msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})",
        )?
        .progress_chars("=> "),
    );
    let mut report = Report::default();
    let mut after = 0;
    loop {
        let page = store.list_assets(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.asset_id.get();
        for asset in page {
            bar.set_message(format!("{}/{count}", report.checked + 1));
            let size = u64::try_from(asset.size_bytes).unwrap_or(0);
            let (storage, sha, progress) = (storage.clone(), asset.sha256.clone(), bar.clone());
            let result = tokio::task::spawn_blocking(move || {
                storage.verify_with(&sha, size, |n| progress.inc(n))
            })
            .await?;
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
    bar.finish_and_clear();
    Ok(report)
}
