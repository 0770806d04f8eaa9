//! `assetgate storage verify` and `storage migrate`: the application
//! re-hashes (or copies) every asset file; this shows its progress as a bar
//! on stderr.

use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};

use crate::app::{App, MigrateReport, Progress, VerifyReport};
use crate::storage::Storage;

struct Bar(ProgressBar);

impl Progress for Bar {
    fn start(&self, total_bytes: u64, _files: u64) {
        self.0.set_length(total_bytes);
    }
    fn file(&self, index: u64) {
        self.0.set_message(format!("file {index}"));
    }
    fn bytes(&self, done: u64) {
        self.0.inc(done);
    }
}

pub async fn migrate(app: &App, from: &Storage) -> anyhow::Result<MigrateReport> {
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template(
            "{spinner} copying {msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})",
        )?
        .progress_chars("=> "),
    );
    let report = app
        .migrate_storage(from, Arc::new(Bar(bar.clone())))
        .await?;
    bar.finish_and_clear();
    Ok(report)
}

pub async fn verify(app: &App) -> anyhow::Result<VerifyReport> {
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template(
            "{spinner} verifying {msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})",
        )?
        .progress_chars("=> "),
    );
    let report = app.verify_storage(Arc::new(Bar(bar.clone()))).await?;
    bar.finish_and_clear();
    Ok(report)
}
