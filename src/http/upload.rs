//! Receiving an asset upload (admin API and console): `multipart/form-data`
//! with the asset's fields, then the part `file`, whose bytes are streamed
//! into storage and hashed on the way (never held whole), within
//! `storage.max_upload_bytes`, each chunk within `server.body_timeout_ms`.
//! Every refusal — a missing or second file part, an unknown or repeated
//! field, a part after the file, a body too large, too slow or broken off —
//! leaves nothing behind in storage.

use std::cell::Cell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use actix_multipart::{Field, Multipart};
use actix_web::http::header;
use actix_web::{HttpRequest, web};
use bytes::Bytes;
use futures_util::{Stream, StreamExt as _};

use super::error::ApiError;
use super::extract::Field as _;
use super::state::AppState;
use crate::app::AssetDraft;
use crate::app::operators::Auditor;
use crate::domain::{AssetId, CountryCode, Stamp};
use crate::storage::Staged;
use crate::store::assets::Asset;

/// Room for the form's own bytes (boundaries, part headers, the fields) on
/// top of the file.
const FORM_OVERHEAD: u64 = 1024 * 1024;
/// Largest text field.
const FIELD_LIMIT: usize = 64 * 1024;

/// What went wrong with the body itself while its file part streamed.
#[derive(Clone, Copy)]
enum BodyFault {
    TooLarge,
    Stalled,
    Broken,
}

/// The text fields of an upload, each given at most once.
#[derive(Default)]
pub struct Fields {
    title: Option<String>,
    description: Option<String>,
    asset_id: Option<String>,
    viewable: Option<String>,
    countries: Option<String>,
    min_qty: Option<String>,
    content_type: Option<String>,
    format: Option<String>,
    stamp: Option<String>,
    access_days: Option<String>,
    /// Fields the caller accepts besides the asset's (the console's `csrf`).
    pub extra: HashMap<String, String>,
}

impl Fields {
    fn set(&mut self, name: &str, value: String, extra: &[&str]) -> Result<(), ApiError> {
        if extra.contains(&name) {
            if self.extra.insert(name.to_owned(), value).is_some() {
                return Err(ApiError::invalid(name, "is given twice"));
            }
            return Ok(());
        }
        let slot = match name {
            "title" => &mut self.title,
            "description" => &mut self.description,
            "asset_id" => &mut self.asset_id,
            "viewable" => &mut self.viewable,
            "countries" => &mut self.countries,
            "min_qty" => &mut self.min_qty,
            "content_type" => &mut self.content_type,
            "format" => &mut self.format,
            "stamp" => &mut self.stamp,
            "access_days" => &mut self.access_days,
            "" => return Err(ApiError::invalid("body", "a form part has no name")),
            other => {
                return Err(ApiError::invalid(
                    other,
                    "is not a field of an asset (title, description, asset_id, viewable, \
                     countries, min_qty, content_type, format, stamp, access_days, then file)",
                ));
            }
        };
        if slot.is_some() {
            return Err(ApiError::invalid(name, "is given twice"));
        }
        *slot = Some(value);
        Ok(())
    }

    fn draft(&self) -> Result<AssetDraft, ApiError> {
        fn given(v: &Option<String>) -> Option<&str> {
            v.as_deref().map(str::trim).filter(|v| !v.is_empty())
        }
        let title = given(&self.title)
            .ok_or_else(|| ApiError::invalid("title", "is required"))?
            .to_owned();
        let asset_id = given(&self.asset_id)
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| ApiError::invalid("asset_id", "must be an integer >= 1"))
                    .and_then(|n| AssetId::parse(n).field("asset_id"))
            })
            .transpose()?;
        let viewable = match given(&self.viewable)
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("false" | "0" | "off" | "no") => false,
            Some("true" | "1" | "on" | "yes") => true,
            Some(_) => return Err(ApiError::invalid("viewable", "must be true or false")),
        };
        let countries = given(&self.countries)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(|c| CountryCode::parse(c).field("countries"))
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?
            .unwrap_or_default();
        let min_qty = given(&self.min_qty)
            .map(|v| {
                v.parse::<i32>()
                    .map_err(|_| ApiError::invalid("min_qty", "must be an integer >= 1"))
            })
            .transpose()?
            .unwrap_or(1);
        Ok(AssetDraft {
            asset_id,
            title,
            description: given(&self.description).map(str::to_owned),
            viewable,
            countries,
            min_qty,
            content_type: given(&self.content_type).map(str::to_owned),
            format: given(&self.format).map(str::to_owned),
            stamp: given(&self.stamp)
                .map(str::parse::<Stamp>)
                .transpose()
                .field("stamp")?
                .unwrap_or(Stamp::None),
            access_days: given(&self.access_days)
                .map(|v| {
                    v.parse::<i32>().map_err(|_| {
                        ApiError::invalid("access_days", "must be a whole number of days")
                    })
                })
                .transpose()?,
        })
    }
}

/// A text part, UTF-8, at most [`FIELD_LIMIT`] bytes.
async fn read_text(part: &mut Field, name: &str, idle: Duration) -> Result<String, ApiError> {
    let mut value = Vec::new();
    loop {
        let chunk = tokio::time::timeout(idle, part.next()).await.map_err(|_| {
            ApiError::RequestTimeout {
                limit_ms: u64::try_from(idle.as_millis()).unwrap_or(u64::MAX),
            }
        })?;
        let Some(chunk) = chunk else { break };
        let chunk =
            chunk.map_err(|e| ApiError::invalid(name, format!("could not be read: {e}")))?;
        if value.len() + chunk.len() > FIELD_LIMIT {
            return Err(ApiError::invalid(name, "is longer than 64 KiB"));
        }
        value.extend_from_slice(&chunk);
    }
    String::from_utf8(value).map_err(|_| ApiError::invalid(name, "must be UTF-8 text"))
}

/// The file part's bytes, refusing more than `limit` and a pause longer
/// than `idle`; why it stopped is left in `fault`.
fn limited(
    part: Field,
    limit: u64,
    idle: Duration,
    fault: Rc<Cell<Option<BodyFault>>>,
) -> impl Stream<Item = std::io::Result<Bytes>> {
    futures_util::stream::unfold(
        (part, 0u64, fault),
        move |(mut part, seen, fault)| async move {
            let failed = |f: BodyFault, fault: &Rc<Cell<Option<BodyFault>>>| {
                fault.set(Some(f));
                Err(std::io::Error::other("the upload was refused"))
            };
            let item = match tokio::time::timeout(idle, part.next()).await {
                Err(_) => failed(BodyFault::Stalled, &fault),
                Ok(None) => return None,
                Ok(Some(Err(_))) => failed(BodyFault::Broken, &fault),
                Ok(Some(Ok(chunk))) if seen + chunk.len() as u64 > limit => {
                    failed(BodyFault::TooLarge, &fault)
                }
                Ok(Some(Ok(chunk))) => Ok(chunk),
            };
            let seen = seen + item.as_ref().map_or(0, |c| c.len() as u64);
            // After an error the stream ends (the reader stops at the first one).
            Some((item, (part, seen, fault)))
        },
    )
}

/// Receives an upload and records the asset, audited as `by`. `extra`
/// names the fields accepted besides the asset's; `before_file` sees every
/// field before any byte of the file is stored (the console checks its CSRF
/// token there).
pub async fn receive(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
    by: impl Into<Auditor>,
    extra: &[&str],
    before_file: impl Fn(&Fields) -> Result<(), ApiError>,
) -> Result<Asset, ApiError> {
    let by: Auditor = by.into();
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        });
    if !multipart {
        return Err(ApiError::UnsupportedMediaType {
            expected: "multipart/form-data",
        });
    }
    let limit = state.settings.storage.max_upload_bytes;
    let too_large = ApiError::PayloadTooLarge {
        limit: usize::try_from(limit).unwrap_or(usize::MAX),
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit + FORM_OVERHEAD) {
        return Err(too_large);
    }
    let limit_ms = state.settings.server.body_timeout_ms;
    let idle = Duration::from_millis(limit_ms);
    let mut form = Multipart::new(req.headers(), payload);
    let mut fields = Fields::default();
    // The file, staged under a temporary name of its own: a refusal after
    // it drops it, and nothing shared with another upload is touched.
    let mut uploaded: Option<(Staged, String, AssetDraft)> = None;
    loop {
        let Ok(next) = tokio::time::timeout(idle, form.next()).await else {
            return Err(ApiError::RequestTimeout { limit_ms });
        };
        let Some(part) = next else { break };
        let mut part = match part {
            Ok(part) => part,
            Err(e) => {
                return Err(ApiError::invalid(
                    "body",
                    format!("is not a readable form: {e}"),
                ));
            }
        };
        let name = part.name().unwrap_or_default().to_owned();
        if let Some((staged, ..)) = uploaded.take() {
            staged.discard().await;
            return Err(ApiError::invalid(
                name,
                "comes after the part `file`, which must be the last",
            ));
        }
        if name != "file" {
            fields.set(&name, read_text(&mut part, &name, idle).await?, extra)?;
            continue;
        }
        before_file(&fields)?;
        let draft = fields.draft()?;
        state.app.check_draft(&draft).await?;
        let original = part
            .content_disposition()
            .and_then(|d| d.get_filename())
            .unwrap_or("upload")
            .to_owned();
        let fault = Rc::new(Cell::new(None));
        let body = limited(part, limit, idle, fault.clone());
        let stored = state
            .app
            .stage_upload(&by, tokio_util::io::StreamReader::new(Box::pin(body)))
            .await;
        match (stored, fault.get()) {
            (_, Some(BodyFault::TooLarge)) => return Err(too_large),
            (_, Some(BodyFault::Stalled)) => return Err(ApiError::RequestTimeout { limit_ms }),
            (_, Some(BodyFault::Broken)) => {
                return Err(ApiError::invalid(
                    "file",
                    "the upload broke off; send it again",
                ));
            }
            (Err(e), None) => return Err(e.into()),
            (Ok(file), None) => uploaded = Some((file, original, draft)),
        }
    }
    let Some((staged, original, draft)) = uploaded else {
        return Err(ApiError::invalid(
            "file",
            "is required: send the asset's file as the part `file`, after the other fields",
        ));
    };
    Ok(state
        .app
        .add_uploaded_asset(by, draft, staged, &original)
        .await?)
}
