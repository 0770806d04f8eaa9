use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use crate::http::error::ApiError;
use crate::http::extract::{ApiQuery, Vendor};
use crate::http::state::AppState;
use crate::http::wire::AssetItem;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    page_size: Option<i64>,
    last_id: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct AssetPage {
    assets: Vec<AssetItem>,
    last_id: i64,
    next_page: Option<String>,
}

/// `GET /assets/list?page_size=20&last_id=0`: keyset pagination by `asset_id`.
#[utoipa::path(
    get,
    path = "/assets/list",
    tag = "purchase",
    operation_id = "assets_list",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of the catalogue", body = AssetPage),
        (status = 422, description = "`invalid_request`: `details.field` names the field", body = crate::http::error::ErrorResponse),
        crate::http::openapi::VendorAuthErrors,
        crate::http::openapi::DatabaseUnavailable
    ),
    security(("vendor_token" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn list(
    _caller: Vendor,
    state: web::Data<AppState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let page_size = q.page_size.unwrap_or(20);
    let limit = u64::try_from(page_size)
        .ok()
        .filter(|n| (1..=100).contains(n))
        .ok_or_else(|| ApiError::invalid("page_size", "must be an integer from 1 to 100"))?;
    let after = q.last_id.unwrap_or(0);
    if after < 0 {
        return Err(ApiError::invalid("last_id", "must be an integer >= 0"));
    }
    let page = state.app.list_assets(after, limit).await?;
    let last_id = page.assets.last().map_or(after, |a| a.asset_id.get());
    let next_page = page.more.then(|| {
        format!(
            "{}/assets/list?page_size={page_size}&last_id={last_id}",
            state.public_url.0
        )
    });
    Ok(HttpResponse::Ok().json(AssetPage {
        assets: page.assets.into_iter().map(AssetItem::from).collect(),
        last_id,
        next_page,
    }))
}
