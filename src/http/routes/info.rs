use actix_web::body::BoxBody;
use actix_web::{HttpRequest, HttpResponse, Responder, web};
use serde::Deserialize;

use crate::app::Info;
use crate::domain::OrderNumber;
use crate::http::error::ApiError;
use crate::http::extract::{ApiQuery, Field as _, Vendor};
use crate::http::responses::{OrderItems, OrderNotFound, OrderPending};
use crate::http::state::AppState;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InfoQuery {
    order_id: i64,
}

/// What `/purchase/info` answers: three successes (HL's contract).
#[derive(utoipa::IntoResponses)]
pub enum InfoAnswer {
    #[response(
        status = 200,
        description = "The order's items (links for COMPLETED lines)"
    )]
    Ready(OrderItems),
    #[response(
        status = 202,
        description = "Still PROCESSING",
        headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))
    )]
    Processing(OrderPending),
    #[response(status = 502, description = "Every line FAILED")]
    AllFailed(OrderPending),
}

impl Responder for InfoAnswer {
    type Body = BoxBody;

    fn respond_to(self, _: &HttpRequest) -> HttpResponse {
        match self {
            Self::Ready(items) => HttpResponse::Ok().json(items),
            Self::Processing(pending) => HttpResponse::Accepted()
                .insert_header(("Retry-After", "1"))
                .json(pending),
            Self::AllFailed(failed) => HttpResponse::BadGateway().json(failed),
        }
    }
}

impl From<Info> for InfoAnswer {
    fn from(info: Info) -> Self {
        match info {
            Info::Processing => Self::Processing(OrderPending {
                status: "PROCESSING".to_owned(),
                message: None,
            }),
            Info::AllFailed { message } => Self::AllFailed(OrderPending {
                status: "FAILED".to_owned(),
                message: Some(message),
            }),
            Info::Ready(lines) => Self::Ready(lines.into()),
        }
    }
}

/// `GET /purchase/info?order_id=N`: 202 while any line is PROCESSING, 502 when every
/// line FAILED, else 200 with the order's items.
#[utoipa::path(
    get,
    path = "/purchase/info",
    tag = "purchase",
    params(InfoQuery),
    responses(InfoAnswer, OrderNotFound)
)]
pub async fn info(
    caller: Vendor,
    state: web::Data<AppState>,
    ApiQuery(q): ApiQuery<InfoQuery>,
) -> Result<InfoAnswer, ApiError> {
    let order = OrderNumber::parse(q.order_id).field("order_id")?;
    let info = state
        .app
        .info(&caller.actor(), caller.tenant.order(order))
        .await?;
    Ok(info.into())
}
