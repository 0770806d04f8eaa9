//! The asset catalogue: find, upload (with a progress bar), edit, retire,
//! and the state the last `storage verify` found each file in.

use std::cell::Cell;

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::config::DeliveryMode;
use crate::console::session::{CarriesCsrf, Submitted};
use crate::console::view::{Chrome, html, see_other, when};
use crate::console::{ConsoleError, ConsoleQuery, ConsoleSession};
use crate::domain::{AssetId, AssetStatus, Countries, CountryCode, FileState, Stamp};
use crate::http::error::ApiError;
use crate::http::path::segment;
use crate::http::state::AppState;
use crate::http::upload;
use crate::store::assets::{Asset, AssetChange, AssetFilter};

pub struct AssetRow {
    pub id: i64,
    pub title: String,
    pub description: Option<String>,
    pub format: String,
    pub content_type: String,
    pub size: String,
    pub viewable: bool,
    pub countries: String,
    pub retired: bool,
    pub file_label: &'static str,
    pub file_class: &'static str,
    pub file_checked: Option<String>,
    pub lines: i64,
    /// Each buyer gets a copy with their name on every page.
    pub stamped: bool,
    /// Days after fulfilment during which links can be minted ("" = always).
    pub access_days: String,
}

impl AssetRow {
    fn new(a: Asset, lines: i64) -> Self {
        let (file_label, file_class) = file_badge(a.file_state);
        Self {
            id: a.asset_id.get(),
            countries: if a.countries.is_world() {
                "the world".to_owned()
            } else {
                a.countries.to_string()
            },
            size: size(a.size_bytes),
            retired: a.status == AssetStatus::Retired,
            file_label,
            file_class,
            file_checked: a.file_checked_at_ms.map(when),
            lines,
            stamped: a.stamp == Stamp::Pdf,
            access_days: a.access_days.map(|d| d.to_string()).unwrap_or_default(),
            title: a.title,
            description: a.description,
            format: a.format,
            content_type: a.content_type,
            viewable: a.viewable,
        }
    }
}

/// What the last verify found, as a badge.
fn file_badge(state: FileState) -> (&'static str, &'static str) {
    match state {
        FileState::Ok => ("file ok", "badge green"),
        FileState::Missing => ("file missing", "badge red"),
        FileState::Altered => ("file altered", "badge red"),
        FileState::Unchecked => ("not verified", "badge grey"),
    }
}

#[derive(Template)]
#[template(path = "assets.html")]
struct AssetsPage {
    chrome: Chrome,
    assets: Vec<AssetRow>,
    next_href: Option<String>,
    q: String,
    status: String,
    notice: Option<String>,
    max_upload: String,
    storage: String,
    /// Under `delivery.mode = redirect`: its weaker guarantee, in words.
    redirect: Option<String>,
    damaged: usize,
}

#[derive(Deserialize)]
pub struct AssetsQuery {
    after: Option<i64>,
    q: Option<String>,
    status: Option<String>,
    added: Option<i64>,
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
    let status = q
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(str::parse::<AssetStatus>)
        .transpose()
        .map_err(|e| ConsoleError::BadInput(format!("status: {e}")))?;
    let filter = AssetFilter {
        status,
        text: q.q.clone(),
    };
    let (rows, more) = state
        .app
        .catalogue(&filter, q.after.unwrap_or(0).max(0), PAGE)
        .await?;
    let next_href = more
        .then(|| {
            rows.last().map(|(a, _)| {
                let mut query = form_urlencoded::Serializer::new(String::new());
                query.append_pair("after", &a.asset_id.to_string());
                if let Some(text) = &q.q {
                    query.append_pair("q", text);
                }
                if let Some(s) = status {
                    query.append_pair("status", s.as_str());
                }
                format!("/admin/assets?{}", query.finish())
            })
        })
        .flatten();
    let assets: Vec<AssetRow> = rows.into_iter().map(|(a, n)| AssetRow::new(a, n)).collect();
    let notice = q
        .added
        .map(|id| format!("Asset {id} added: its file is stored and it is on sale."));
    html(&AssetsPage {
        chrome: Chrome::new(&session, "assets"),
        damaged: assets
            .iter()
            .filter(|a| a.file_class == "badge red")
            .count(),
        assets,
        next_href,
        q: q.q.unwrap_or_default(),
        status: status.map(|s| s.as_str().to_owned()).unwrap_or_default(),
        notice,
        max_upload: size(
            i64::try_from(state.settings.storage.max_upload_bytes).unwrap_or(i64::MAX),
        ),
        storage: state.app.storage_description(),
        redirect: (state.settings.delivery.mode == DeliveryMode::Redirect).then(|| {
            format!(
                "Delivery is \"redirect\": after every check, buyers are sent to a presigned URL \
                 of the bucket. A URL handed out before a cancel keeps working until it expires \
                 (at most {} s); every new request through a canceled link is refused. With \
                 \"stream\" (the default) a cancel stops every later request.",
                state.settings.delivery.redirect_max_ttl_seconds
            )
        }),
    })
}

/// `POST /admin/assets`: the upload form (multipart, `csrf` before the
/// file). The CSRF token is checked before any byte of the file is stored.
pub async fn upload(
    session: ConsoleSession,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ConsoleError> {
    let forged = Cell::new(false);
    let received = upload::receive(
        &state,
        &req,
        payload,
        &session.operator,
        &["csrf"],
        |fields| {
            let token = fields.extra.get("csrf").map_or("", String::as_str);
            session.check_csrf(token).map_err(|_| {
                forged.set(true);
                ApiError::invalid("csrf", "does not match the session")
            })
        },
    )
    .await;
    if forged.get() {
        return Err(ConsoleError::Forbidden);
    }
    let asset = received?;
    Ok(see_other(&format!(
        "/admin/assets?added={}",
        asset.asset_id
    )))
}

#[derive(Template)]
#[template(path = "asset.html")]
struct AssetPageView {
    chrome: Chrome,
    a: AssetRow,
    sha256: String,
    file_name: String,
    created: String,
    description: String,
    countries: String,
    min_qty: i32,
    notice: Option<&'static str>,
}

pub async fn detail(
    session: ConsoleSession,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    let id = segment::<AssetId>(&req)?;
    let (asset, lines) = state.app.catalogue_entry(id).await?;
    let notice = form_urlencoded::parse(req.query_string().as_bytes()).find_map(|(k, v)| {
        (k == "done").then(|| match v.as_ref() {
            "retired" => "Retired: it is no longer sold; what was sold keeps being served.",
            "activated" => "On sale again.",
            _ => "Saved.",
        })
    });
    html(&AssetPageView {
        chrome: Chrome::new(&session, "assets"),
        sha256: asset.sha256.as_str().to_owned(),
        file_name: asset.file_name.clone(),
        created: when(asset.created_at_ms),
        description: asset.description.clone().unwrap_or_default(),
        countries: asset
            .countries
            .codes()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        min_qty: asset.min_qty,
        a: AssetRow::new(asset, lines),
        notice,
    })
}

#[derive(Deserialize)]
pub struct EditForm {
    csrf: String,
    title: String,
    description: Option<String>,
    countries: Option<String>,
    min_qty: String,
    viewable: Option<String>,
    stamp: Option<String>,
    access_days: Option<String>,
}

impl CarriesCsrf for EditForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /admin/assets/{asset_id}`: the edit form.
pub async fn edit(
    Submitted { session, form }: Submitted<EditForm>,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    let id = segment::<AssetId>(&req)?;
    let countries = form
        .countries
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| CountryCode::parse(c).map_err(|e| ConsoleError::BadInput(format!("Sold to: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let min_qty = form.min_qty.trim().parse::<i32>().map_err(|_| {
        ConsoleError::BadInput("Minimum quantity: a whole number of at least 1.".to_owned())
    })?;
    let change = AssetChange {
        title: Some(form.title.trim().to_owned()),
        description: Some(
            form.description
                .map(|d| d.trim().to_owned())
                .filter(|d| !d.is_empty()),
        ),
        viewable: Some(form.viewable.is_some()),
        countries: Some(Countries::new(countries)),
        min_qty: Some(min_qty),
        status: None,
        stamp: form
            .stamp
            .as_deref()
            .map(str::parse::<Stamp>)
            .transpose()
            .map_err(|e| ConsoleError::BadInput(format!("Stamping: {e}")))?,
        access_days: Some(
            form.access_days
                .as_deref()
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(|d| {
                    d.parse::<i32>().map_err(|_| {
                        ConsoleError::BadInput(
                            "Access window: a whole number of days (1 to 3650), or empty for none."
                                .to_owned(),
                        )
                    })
                })
                .transpose()?,
        ),
    };
    state
        .app
        .change_asset(&session.operator, id, change)
        .await?;
    Ok(see_other(&format!("/admin/assets/{id}?done=saved")))
}

#[derive(Deserialize)]
pub struct StatusForm {
    csrf: String,
    status: String,
}

impl CarriesCsrf for StatusForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /admin/assets/{asset_id}/status`: retire, or put on sale again.
pub async fn set_status(
    Submitted { session, form }: Submitted<StatusForm>,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    let id = segment::<AssetId>(&req)?;
    let status = form
        .status
        .parse::<AssetStatus>()
        .map_err(|e| ConsoleError::BadInput(format!("status: {e}")))?;
    let change = AssetChange {
        status: Some(status),
        ..AssetChange::default()
    };
    state
        .app
        .change_asset(&session.operator, id, change)
        .await?;
    let done = match status {
        AssetStatus::Retired => "retired",
        AssetStatus::Active => "activated",
    };
    Ok(see_other(&format!("/admin/assets/{id}?done={done}")))
}
