use actix_web::web;
use serde::Deserialize;

use crate::http::error::ApiError;
use crate::http::extract::{ApiQuery, Vendor};
use crate::http::params::page_size;
use crate::http::responses::{AssetPage, Json};
use crate::http::state::AppState;
use crate::http::wire::AssetItem;
use crate::store::assets::AssetFilter;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    page_size: Option<i64>,
    last_id: Option<i64>,
}

/// `GET /assets/list?page_size=20&last_id=0`: keyset pagination by `asset_id`.
#[utoipa::path(
    get,
    path = "/assets/list",
    tag = "purchase",
    operation_id = "assets_list",
    params(ListQuery),
    responses(Json<AssetPage>),
)]
pub async fn list(
    _caller: Vendor,
    state: web::Data<AppState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<AssetPage>, ApiError> {
    let limit = page_size(q.page_size, 20, 100)?;
    let after = q.last_id.unwrap_or(0);
    if after < 0 {
        return Err(ApiError::invalid("last_id", "must be an integer >= 0"));
    }
    let page = state
        .app
        .list_assets(&AssetFilter::for_sale(), after, limit)
        .await?;
    let last_id = page.assets.last().map_or(after, |a| a.asset_id.get());
    let next_page = page.more.then(|| {
        format!(
            "{}/assets/list?page_size={limit}&last_id={last_id}",
            state.public_url.0
        )
    });
    Ok(Json(AssetPage {
        assets: page.assets.into_iter().map(AssetItem::from).collect(),
        last_id,
        next_page,
    }))
}
