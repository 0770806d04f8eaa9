use actix_web::web;
use serde::Deserialize;

use crate::domain::{OrderLineId, OrderNumber};
use crate::http::error::{ApiError, ErrorResponse};
use crate::http::extract::{ApiQuery, Field as _, Vendor};
use crate::http::state::AppState;
use crate::http::wire::LinkItem;
use crate::links::Action;

use crate::http::responses::{Json, OrderNotFound};
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LineQuery {
    order_id: i64,
    order_line_id: i64,
}

/// The documentation the two link routes share.
macro_rules! link_route {
    ($path:literal, $action:expr, $via:literal, $errors:literal, $what:literal, $name:ident) => {
        #[doc = $what]
        #[utoipa::path(
                                    get,
                                    path = $path,
                                    tag = "purchase",
                                    params(LineQuery),
                                    responses(
                                        Json<LinkItem>,
                                        OrderNotFound,
                                        (status = 422, description = $errors, body = ErrorResponse)
                                    )
                                )]
        pub async fn $name(
            caller: Vendor,
            state: web::Data<AppState>,
            ApiQuery(q): ApiQuery<LineQuery>,
        ) -> Result<Json<LinkItem>, ApiError> {
            let line = OrderLineId::parse(q.order_line_id).field("order_line_id")?;
            let order = OrderNumber::parse(q.order_id).field("order_id")?;
            let minted = state
                .app
                .link(
                    &caller.actor(),
                    caller.tenant.order(order),
                    line,
                    $action,
                    $via,
                    None,
                )
                .await?;
            Ok(Json(minted.into()))
        }
    };
}

link_route!(
    "/purchase/download-url",
    Action::Download,
    "download-url",
    "`invalid_request`: `details.field` names the field; `order_not_accessible` (the line is not COMPLETED)",
    "`GET /purchase/download-url`: a fresh attachment link for a COMPLETED line.",
    download_url
);

link_route!(
    "/purchase/view-url",
    Action::View,
    "view-url",
    "`invalid_request`: `details.field` names the field; `order_not_accessible`, `asset_not_viewable`",
    "`GET /purchase/view-url`: a fresh inline link, for viewable assets only.",
    view_url
);
