//! `assetgate asset add`: copies a file into storage under a name the gateway
//! chooses and records it in the catalogue (through the application layer).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use clap::Args;

use crate::app::operators::Auditor;
use crate::app::{App, AssetDraft, Progress};
use crate::domain::{AssetId, CountryCode, Stamp};
use crate::store::assets::Asset;

#[derive(Args, Debug)]
pub struct AddArgs {
    /// The file to add (copied into storage).
    #[arg(long)]
    file: PathBuf,
    /// The title buyers see, 1 to 300 characters.
    #[arg(long)]
    title: String,
    /// Choose the asset id; default: the next free one.
    #[arg(long)]
    asset_id: Option<i64>,
    /// A description shown with the asset.
    #[arg(long)]
    description: Option<String>,
    /// Allow view (inline) links.
    #[arg(long)]
    viewable: bool,
    /// Restrict sales to these countries (comma separated ISO codes); default: world.
    #[arg(long, value_delimiter = ',')]
    countries: Vec<String>,
    /// The smallest quantity one purchase may register.
    #[arg(long, default_value_t = 1)]
    min_qty: i32,
    /// Override the detected content type.
    #[arg(long)]
    content_type: Option<String>,
    /// `pdf`: each buyer gets a copy with their name on every page (the file
    /// must be an unencrypted PDF); `none` (default): everyone gets the file.
    #[arg(long, default_value = "none")]
    stamp: Stamp,
    /// Links can be minted for this many days after each sale's fulfilment
    /// (1 to 3650); default: no window.
    #[arg(long)]
    access_days: Option<i32>,
}

pub async fn add(app: &App, by: &Auditor, args: AddArgs) -> anyhow::Result<Asset> {
    let asset_id = args
        .asset_id
        .map(AssetId::parse)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--asset-id: {e}"))?;
    let countries = args
        .countries
        .iter()
        .map(|c| c.trim().to_ascii_uppercase())
        .filter(|c| !c.is_empty())
        .map(|c| CountryCode::parse(&c).map_err(|e| anyhow::anyhow!("--countries: {c:?}: {e}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let draft = AssetDraft {
        asset_id,
        title: args.title,
        description: args.description,
        viewable: args.viewable,
        countries,
        min_qty: args.min_qty,
        content_type: args.content_type,
        format: None,
        stamp: args.stamp,
        access_days: args.access_days,
    };
    let progress = Arc::new(Lines::default());
    Ok(app.import_asset(by, &args.file, draft, progress).await?)
}

/// Large files (64 MiB and more): a progress line on stderr every 5 %.
#[derive(Default)]
struct Lines {
    total: AtomicU64,
    done: AtomicU64,
    shown: AtomicU64,
}

impl Progress for Lines {
    fn start(&self, total_bytes: u64, _files: u64) {
        self.total.store(total_bytes, Ordering::Relaxed);
    }

    fn bytes(&self, done: u64) {
        let total = self.total.load(Ordering::Relaxed);
        let copied = self.done.fetch_add(done, Ordering::Relaxed) + done;
        let shown = self.shown.load(Ordering::Relaxed);
        if total >= 64 << 20 && (copied - shown >= total / 20 || copied == total) {
            self.shown.store(copied, Ordering::Relaxed);
            eprintln!(
                "copying into storage: {} / {} MiB",
                copied >> 20,
                total >> 20
            );
        }
    }
}
