//! Catalogue management (SPEC §11): upload (`http::upload`), list, read,
//! change, retire.

use actix_web::{HttpRequest, web};
use serde::{Deserialize, Deserializer};

use crate::domain::{AssetId, AssetStatus, Countries, CountryCode, Stamp};
use crate::http::error::ApiError;
use crate::http::extract::{Admin, ApiJson, ApiQuery, Field as _};
use crate::http::params::{encode_cursor, id_cursor, page_size};
use crate::http::path::At;
use crate::http::responses::{
    AdminAssetPage, AssetNotFound, BodyErrors, Created, Json, RoleForbidden,
};
use crate::http::state::AppState;
use crate::http::upload;
use crate::http::wire::AdminAssetItem;
use crate::store::assets::{AssetChange, AssetFilter};

/// `POST /admin/api/assets`: a new asset from an uploaded file.
#[utoipa::path(
    post,
    path = "/admin/api/assets",
    tag = "admin",
    operation_id = "admin_asset_upload",
    request_body(
        content_type = "multipart/form-data",
        description = "Fields `title` (required), `description`, `asset_id`, `viewable`, \
                       `countries` (comma-separated), `min_qty`, `content_type`, `format`, \
                       `stamp` (`none` or `pdf`), `access_days`; then the part `file`, last."
    ),
    responses(
        Created<AdminAssetItem>,
        RoleForbidden,
        (status = 409, description = "`asset_exists`", body = crate::http::error::ErrorResponse),
        (status = 415, description = "`unsupported_media_type`: not multipart/form-data", body = crate::http::error::ErrorResponse),
        (status = 422, description = "`invalid_request`: `details.field` names the field (no file part, an unknown or repeated field, a part after the file)", body = crate::http::error::ErrorResponse),
        BodyErrors
    )
)]
pub async fn upload(
    Admin(operator): Admin,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<Created<AdminAssetItem>, ApiError> {
    let asset = upload::receive(&state, &req, payload, &operator, &[], |_| Ok(())).await?;
    Ok(Created::new(AdminAssetItem::new(asset, 0)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `ACTIVE` or `RETIRED`; all when absent.
    status: Option<String>,
    /// A piece of the title or file name, a sha256 prefix, or an asset id.
    q: Option<String>,
    page_size: Option<i64>,
    cursor: Option<String>,
}

/// `GET /admin/api/assets`: the catalogue, each asset with its file's state
/// and the number of lines sold.
#[utoipa::path(
    get,
    path = "/admin/api/assets",
    tag = "admin",
    operation_id = "admin_assets",
    params(ListQuery),
    responses(Json<AdminAssetPage>)
)]
pub async fn list(
    _admin: Admin,
    state: web::Data<AppState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<AdminAssetPage>, ApiError> {
    let limit = page_size(q.page_size, 50, 200)?;
    let after = id_cursor(q.cursor.as_deref())?.unwrap_or(0);
    let filter = AssetFilter {
        status: q
            .status
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(str::parse::<AssetStatus>)
            .transpose()
            .field("status")?,
        text: q.q,
    };
    let (rows, more) = state.app.catalogue(&filter, after, limit).await?;
    let next_cursor = more
        .then(|| rows.last().map(|(a, _)| encode_cursor(&[a.asset_id.get()])))
        .flatten();
    Ok(Json(AdminAssetPage {
        assets: rows
            .into_iter()
            .map(|(a, lines)| AdminAssetItem::new(a, lines))
            .collect(),
        next_cursor,
    }))
}

/// `GET /admin/api/assets/{asset_id}`.
#[utoipa::path(
    get,
    path = "/admin/api/assets/{asset_id}",
    tag = "admin",
    operation_id = "admin_asset",
    params(At<AssetId>),
    responses(Json<AdminAssetItem>, AssetNotFound)
)]
pub async fn detail(
    _admin: Admin,
    state: web::Data<AppState>,
    At(id): At<AssetId>,
) -> Result<Json<AdminAssetItem>, ApiError> {
    let (asset, lines) = state.app.catalogue_entry(id).await?;
    Ok(Json(AdminAssetItem::new(asset, lines)))
}

/// `null` as `Some(None)` (clear), absent as `None` (unchanged).
fn cleared<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// What `PATCH` changes (absent: unchanged). The file never changes: to
/// replace it, add a new asset and retire this one.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchBody {
    title: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "cleared")]
    #[schema(value_type = Option<String>)]
    description: Option<Option<String>>,
    viewable: Option<bool>,
    /// ISO country codes; `[]`: sold everywhere.
    countries: Option<Vec<String>>,
    min_qty: Option<i32>,
    /// `RETIRED`: no longer sold; lines already sold keep being served.
    status: Option<String>,
    /// Access policies (SPEC §12); absent ones unchanged.
    policies: Option<PoliciesPatch>,
}

/// The policies a `PATCH` changes.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PoliciesPatch {
    /// `none` or `pdf`; only while the asset has no sold line.
    #[schema(value_type = Option<String>)]
    stamp: Option<Stamp>,
    /// Days after fulfilment during which links can be minted; `null`
    /// clears it. Lines already fulfilled keep the window they got.
    #[serde(default, deserialize_with = "cleared")]
    #[schema(value_type = Option<i32>)]
    access_days: Option<Option<i32>>,
}

/// `PATCH /admin/api/assets/{asset_id}`: edit or retire.
#[utoipa::path(
    patch,
    path = "/admin/api/assets/{asset_id}",
    tag = "admin",
    operation_id = "admin_asset_change",
    params(At<AssetId>),
    request_body = PatchBody,
    responses(Json<AdminAssetItem>, AssetNotFound, RoleForbidden, BodyErrors)
)]
pub async fn change(
    Admin(operator): Admin,
    state: web::Data<AppState>,
    At(id): At<AssetId>,
    ApiJson { value, .. }: ApiJson<PatchBody>,
) -> Result<Json<AdminAssetItem>, ApiError> {
    let countries = value
        .countries
        .map(|codes| {
            codes
                .iter()
                .map(|c| CountryCode::parse(c).field("countries"))
                .collect::<Result<Vec<_>, _>>()
                .map(Countries::new)
        })
        .transpose()?;
    let change = AssetChange {
        title: value.title.map(|t| t.trim().to_owned()),
        description: value
            .description
            .map(|d| d.map(|d| d.trim().to_owned()).filter(|d| !d.is_empty())),
        viewable: value.viewable,
        countries,
        min_qty: value.min_qty,
        status: value
            .status
            .as_deref()
            .map(str::parse::<AssetStatus>)
            .transpose()
            .field("status")?,
        stamp: value.policies.as_ref().and_then(|p| p.stamp),
        access_days: value.policies.and_then(|p| p.access_days),
    };
    state.app.change_asset(&operator, id, change).await?;
    let (asset, lines) = state.app.catalogue_entry(id).await?;
    Ok(Json(AdminAssetItem::new(asset, lines)))
}
