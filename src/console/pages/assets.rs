//! The asset catalogue.

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::console::view::{Chrome, html};
use crate::console::{ConsoleError, ConsoleQuery, ConsoleSession};
use crate::http::state::AppState;
use crate::store::assets::AssetFilter;

pub struct AssetRow {
    pub id: i64,
    pub title: String,
    pub description: Option<String>,
    pub format: String,
    pub content_type: String,
    pub size: String,
    pub viewable: bool,
    pub countries: String,
    pub sha_short: String,
}

#[derive(Template)]
#[template(path = "assets.html")]
struct AssetsPage {
    chrome: Chrome,
    assets: Vec<AssetRow>,
    next_href: Option<String>,
}

#[derive(Deserialize)]
pub struct AssetsQuery {
    after: Option<i64>,
}

const PAGE: u64 = 50;

/// `1.2 MiB`.
fn size(bytes: i64) -> String {
    let b = bytes as f64;
    if bytes < 1024 {
        format!("{bytes} B")
    } else if bytes < 1 << 20 {
        format!("{:.1} KiB", b / 1024.0)
    } else if bytes < 1 << 30 {
        format!("{:.1} MiB", b / 1_048_576.0)
    } else {
        format!("{:.1} GiB", b / 1_073_741_824.0)
    }
}

pub async fn list(
    session: ConsoleSession,
    state: web::Data<AppState>,
    ConsoleQuery(q): ConsoleQuery<AssetsQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let page = state
        .app
        .list_assets(&AssetFilter::default(), q.after.unwrap_or(0).max(0), PAGE)
        .await?;
    let next_href = page
        .more
        .then(|| {
            page.assets
                .last()
                .map(|a| format!("/admin/assets?after={}", a.asset_id))
        })
        .flatten();
    html(&AssetsPage {
        chrome: Chrome::new(&session, "assets"),
        assets: page
            .assets
            .into_iter()
            .map(|a| AssetRow {
                id: a.asset_id.get(),
                countries: if a.countries.is_world() {
                    "the world".to_owned()
                } else {
                    a.countries.to_string()
                },
                sha_short: a.sha256.as_str()[..12].to_owned(),
                size: size(a.size_bytes),
                title: a.title,
                description: a.description,
                format: a.format,
                content_type: a.content_type,
                viewable: a.viewable,
            })
            .collect(),
        next_href,
    })
}
