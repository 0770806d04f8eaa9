//! `assetgate asset add`: copies a file into storage under a name the gateway
//! chooses and records it in the catalogue.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;

use crate::config::Settings;
use crate::domain::{AssetId, Countries, CountryCode, file_name};
use crate::storage::{Storage, format_label, sniff_content_type};
use crate::store::Store;
use crate::store::assets::{AddAssetError, Asset, NewAsset};

#[derive(Args, Debug)]
pub struct AddArgs {
    /// The file to add (copied into storage).
    #[arg(long)]
    file: PathBuf,
    #[arg(long)]
    title: String,
    /// Choose the asset id; default: the next free one.
    #[arg(long)]
    asset_id: Option<i64>,
    #[arg(long)]
    description: Option<String>,
    /// Allow view (inline) links.
    #[arg(long)]
    viewable: bool,
    /// Restrict sales to these countries (comma separated ISO codes); default: world.
    #[arg(long, value_delimiter = ',')]
    countries: Vec<String>,
    #[arg(long, default_value_t = 1)]
    min_qty: i32,
    /// Override the detected content type.
    #[arg(long)]
    content_type: Option<String>,
}

pub async fn add(store: &Store, settings: &Settings, args: AddArgs) -> anyhow::Result<Asset> {
    let title = args.title.trim().to_owned();
    anyhow::ensure!(
        (1..=300).contains(&title.chars().count()),
        "--title must be 1 to 300 characters"
    );
    anyhow::ensure!(args.min_qty >= 1, "--min-qty must be at least 1");
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
    anyhow::ensure!(
        args.file.is_file(),
        "--file {} is not a readable file",
        args.file.display()
    );

    let storage = Storage::open(&settings.storage.path)?;
    let source = args.file.clone();
    let stored = tokio::task::spawn_blocking(move || {
        let mut last_shown = 0u64;
        storage.import(&source, |copied, total| {
            // Large files: a progress line on stderr every 5 %.
            if total >= 64 << 20 && (copied - last_shown >= total / 20 || copied == total) {
                last_shown = copied;
                eprintln!(
                    "copying into storage: {} / {} MiB",
                    copied >> 20,
                    total >> 20
                );
            }
        })
    })
    .await
    .context("copying the file")??;

    let original = args
        .file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("asset");
    let content_type = args
        .content_type
        .clone()
        .unwrap_or_else(|| sniff_content_type(&stored.head, original));
    anyhow::ensure!(
        content_type.parse::<mime_guess::mime::Mime>().is_ok(),
        "--content-type {content_type:?} is not a MIME type"
    );
    let new = NewAsset {
        asset_id,
        format: format_label(original, &content_type),
        file_name: file_name::from_title(&title, args.file.extension().and_then(|e| e.to_str())),
        title,
        description: args.description.clone(),
        content_type,
        size_bytes: i64::try_from(stored.size_bytes).context("file too large")?,
        sha256: stored.sha256,
        viewable: args.viewable,
        countries: Countries::new(countries),
        min_qty: args.min_qty,
    };
    match store.add_asset(new).await {
        Ok(asset) => Ok(asset),
        Err(AddAssetError::Exists(id)) => {
            anyhow::bail!("asset_id {id} already exists; choose another --asset-id or omit it")
        }
        Err(e) => Err(e.into()),
    }
}
