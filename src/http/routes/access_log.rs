//! `GET /purchase/access-log` (extension, SPEC §14): the evidence a shop
//! hands its payment provider in a dispute, as JSON or as bounded text.

use std::collections::BTreeMap;

use actix_web::body::BoxBody;
use actix_web::{HttpRequest, HttpResponse, Responder, ResponseError as _, web};
use serde::{Deserialize, Serialize};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};
use utoipa::{IntoResponses, ToSchema};

use crate::app::evidence::{Evidence, TEXT_LIMIT, reached_the_end};
use crate::domain::{Environment, LineStatus, OrderLineId, OrderNumber, ms_to_rfc3339};
use crate::http::error::ApiError;
use crate::http::extract::{ApiQuery, Field as _, Vendor};
use crate::http::responses::OrderNotFound;
use crate::http::state::AppState;

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

/// What happened to an order's lines, for a dispute (SPEC §14).
#[derive(Debug, Serialize, ToSchema)]
pub struct AccessLogItem {
    pub order_id: OrderNumber,
    #[schema(value_type = String)]
    pub environment: Environment,
    pub customer: String,
    pub lines: Vec<AccessLogLine>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccessLogLine {
    pub order_line_id: OrderLineId,
    pub asset_id: i64,
    pub asset_title: String,
    /// The size of the file its links served (a stamped line: its own copy).
    pub size_bytes: i64,
    #[schema(value_type = String)]
    pub status: LineStatus,
    pub canceled_at: Option<String>,
    /// Complete downloads: completed GETs that delivered the file's last byte.
    pub complete_downloads: u64,
    /// Oldest first.
    pub events: Vec<AccessLogEvent>,
}

/// One event; the access fields are null for other kinds.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccessLogEvent {
    pub at: String,
    /// `registered`, `fulfilled`, `failed`, `link_issued`, `access`, `canceled`, …
    pub kind: String,
    pub action: Option<String>,
    pub method: Option<String>,
    pub status: Option<i64>,
    pub result: Option<String>,
    pub range: Option<String>,
    pub bytes_sent: Option<i64>,
    pub completed: Option<bool>,
    /// Whether this access delivered the file to its last byte.
    pub complete_file: bool,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The rest of what was recorded (a cancel's reason, a link's expiry…).
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

impl From<&Evidence> for AccessLogItem {
    fn from(e: &Evidence) -> Self {
        Self {
            order_id: e.order.order,
            environment: e.order.tenant.environment,
            customer: e
                .lines
                .first()
                .map(|l| l.line.customer.as_str().to_owned())
                .unwrap_or_default(),
            lines: e
                .lines
                .iter()
                .map(|l| {
                    let events: Vec<AccessLogEvent> = l
                        .events
                        .iter()
                        .map(|ev| {
                            let mut details = ev.data.clone();
                            let mut take =
                                |key: &str| details.as_object_mut().and_then(|m| m.remove(key));
                            let text = |v: Option<serde_json::Value>| {
                                v.and_then(|v| v.as_str().map(str::to_owned))
                            };
                            let access = ev.kind == "access";
                            AccessLogEvent {
                                at: ms_to_rfc3339(ev.at_ms),
                                kind: ev.kind.clone(),
                                complete_file: reached_the_end(ev, l.size_bytes),
                                action: text(take("action")),
                                method: text(take("method")),
                                status: take("status").and_then(|v| v.as_i64()),
                                result: text(take("result")),
                                range: text(take("range")),
                                bytes_sent: take("bytes_sent").and_then(|v| v.as_i64()),
                                completed: take("completed")
                                    .and_then(|v| v.as_bool())
                                    .filter(|_| access),
                                ip: text(take("client_ip")),
                                user_agent: text(take("user_agent")),
                                details,
                            }
                        })
                        .collect();
                    AccessLogLine {
                        order_line_id: l.line.order_line_id,
                        asset_id: l.line.asset_id.get(),
                        asset_title: l.asset_title.clone(),
                        size_bytes: l.size_bytes,
                        status: l.line.status,
                        canceled_at: l.line.canceled_at_ms.map(ms_to_rfc3339),
                        complete_downloads: events.iter().filter(|e| e.complete_file).count()
                            as u64,
                        events,
                    }
                })
                .collect(),
        }
    }
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
