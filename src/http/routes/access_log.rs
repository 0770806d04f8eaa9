//! `GET /purchase/access-log` (extension, SPEC §14): the evidence a shop
//! hands its payment provider in a dispute, as JSON or as bounded text.

use std::collections::BTreeMap;

use actix_web::body::BoxBody;
use actix_web::{HttpRequest, HttpResponse, Responder, ResponseError as _, web};
use serde::Deserialize;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};
use utoipa::{IntoResponses, ToSchema};

use crate::app::evidence::TEXT_LIMIT;
use crate::domain::{OrderLineId, OrderNumber};
use crate::http::error::ApiError;
use crate::http::extract::{ApiQuery, Field as _, Vendor};
use crate::http::responses::OrderNotFound;
use crate::http::state::AppState;
use crate::http::wire::AccessLogItem;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccessLogQuery {
    order_id: i64,
    /// One line of the order; all lines when absent.
    order_line_id: Option<i64>,
    /// `json` (default) or `text`: plain UTF-8 of at most 18,000 UTF-16 code
    /// units, ready to paste as dispute evidence.
    format: Option<String>,
}

/// The answer: JSON, or the text form.
pub enum AccessLogAnswer {
    Json(AccessLogItem),
    Text(String),
}

impl Responder for AccessLogAnswer {
    type Body = BoxBody;

    fn respond_to(self, _: &HttpRequest) -> HttpResponse {
        match self {
            Self::Json(item) => match serde_json::to_vec(&item) {
                Ok(body) => HttpResponse::Ok()
                    .content_type("application/json")
                    .body(body),
                Err(e) => ApiError::internal(e).error_response(),
            },
            Self::Text(text) => HttpResponse::Ok()
                .content_type("text/plain; charset=utf-8")
                .body(text),
        }
    }
}

impl IntoResponses for AccessLogAnswer {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let response = ResponseBuilder::new()
            .description(
                "The access log: `AccessLogItem` as JSON, or (`format=text`) plain text of at \
                 most 18,000 UTF-16 code units",
            )
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name(AccessLogItem::name())))
                    .build(),
            )
            .content(
                "text/plain",
                ContentBuilder::new()
                    .schema(Some(
                        utoipa::openapi::ObjectBuilder::new()
                            .schema_type(utoipa::openapi::schema::Type::String)
                            .build(),
                    ))
                    .build(),
            )
            .build();
        BTreeMap::from([("200".to_owned(), RefOr::T(response))])
    }
}

/// `GET /purchase/access-log`: what happened to an order's lines, as
/// evidence for a dispute.
#[utoipa::path(
    get,
    path = "/purchase/access-log",
    tag = "purchase",
    operation_id = "purchase_access_log",
    params(AccessLogQuery),
    responses(AccessLogAnswer, OrderNotFound)
)]
pub async fn access_log(
    caller: Vendor,
    state: web::Data<AppState>,
    ApiQuery(q): ApiQuery<AccessLogQuery>,
) -> Result<AccessLogAnswer, ApiError> {
    let order = OrderNumber::parse(q.order_id).field("order_id")?;
    let line = q
        .order_line_id
        .map(OrderLineId::parse)
        .transpose()
        .field("order_line_id")?;
    let text = match q.format.as_deref().map(str::trim) {
        None | Some("" | "json") => false,
        Some("text") => true,
        Some(_) => return Err(ApiError::invalid("format", "must be json or text")),
    };
    let evidence = state.app.evidence(caller.tenant.order(order), line).await?;
    Ok(if text {
        AccessLogAnswer::Text(evidence.text(TEXT_LIMIT))
    } else {
        AccessLogAnswer::Json(AccessLogItem::from(&evidence))
    })
}
