use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::app::idempotency::Work;
use crate::app::{Purchase, RegisterRequest};
use crate::domain::{
    AssetId, CountryCode, CustomerName, Metadata, OrderLineId, OrderNumber, Price, Quantity,
};
use crate::http::error::{ApiError, ErrorResponse};
use crate::http::extract::{ApiJson, Field as _, IdempotencyHeader, Vendor};
use crate::http::responses::{AssetNotFound, BodyErrors, Created, Registered, idempotent};
use crate::http::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RegisterBody {
    token: Option<String>,
    asset_id: Option<i64>,
    quantity: Option<i64>,
    country_code: Option<String>,
    order_number: i64,
    order_line_id: i64,
    unit_price: f64,
    line_item_price: f64,
    customer: String,
    #[serde(default)]
    parts: Vec<PartBody>,
    metadata: Option<serde_json::Value>,
}

#[derive(Deserialize, utoipa::ToSchema)]
struct PartBody {
    asset_id: i64,
    order_line_id: i64,
}

impl RegisterBody {
    /// Every value of the body as a domain value, before any database call.
    pub fn parse(self) -> Result<RegisterRequest, ApiError> {
        let order = OrderNumber::parse(self.order_number).field("order_number")?;
        let line = OrderLineId::parse(self.order_line_id).field("order_line_id")?;
        let customer = CustomerName::parse(&self.customer).field("customer")?;
        let unit_price = Price::parse(self.unit_price, "unit_price").field("unit_price")?;
        let line_item_price =
            Price::parse(self.line_item_price, "line_item_price").field("line_item_price")?;
        let metadata = self
            .metadata
            .map(Metadata::parse)
            .transpose()
            .field("metadata")?;
        let quantity = self
            .quantity
            .map(Quantity::parse)
            .transpose()
            .field("quantity")?;
        let country = self
            .country_code
            .as_deref()
            .map(CountryCode::parse)
            .transpose()
            .field("country_code")?;
        let asset = self
            .asset_id
            .map(AssetId::parse)
            .transpose()
            .field("asset_id")?;
        let purchase = match self.token {
            Some(token) => Purchase::Validated {
                token,
                asset,
                quantity,
            },
            None => Purchase::Direct {
                asset: asset.ok_or_else(|| {
                    ApiError::invalid("asset_id", "either token or asset_id is required")
                })?,
                quantity: quantity.unwrap_or(Quantity::ONE),
                country,
            },
        };
        let parts = self
            .parts
            .iter()
            .enumerate()
            .map(|(i, part)| {
                Ok((
                    OrderLineId::parse(part.order_line_id)
                        .field(&format!("parts[{i}].order_line_id"))?,
                    AssetId::parse(part.asset_id).field("asset_id")?,
                ))
            })
            .collect::<Result<_, ApiError>>()?;
        Ok(RegisterRequest {
            order,
            line,
            customer,
            unit_price,
            line_item_price,
            metadata,
            purchase,
            parts,
        })
    }
}

/// `POST /purchase/register`: records a sale; lines start PROCESSING.
#[utoipa::path(
    post,
    path = "/purchase/register",
    tag = "purchase",
    params(IdempotencyHeader),
    request_body = RegisterBody,
    responses(
        Created<Registered>,
        (status = 400, description = "`quantity_below_minimum`, `region_not_allowed`", body = ErrorResponse),
        AssetNotFound,
        (status = 409, description = "`order_exists`, `idempotency_request_in_progress`", body = ErrorResponse),
        (status = 422, description = "`invalid_request`: `details.field` names the field; `validation_token_invalid`, `validation_token_expired`, `validation_token_used`, `idempotency_key_reused`", body = ErrorResponse),
        BodyErrors
    )
)]
pub async fn register(
    caller: Vendor,
    state: web::Data<AppState>,
    req: HttpRequest,
    IdempotencyHeader(key): IdempotencyHeader,
    ApiJson { value, raw }: ApiJson<RegisterBody>,
) -> Result<HttpResponse, ApiError> {
    let app = &state.app;
    // Register never answers a resumable 503, so every attempt is a first one.
    let once = (caller.tenant, key);
    idempotent(&state, &req, once, &raw, Work::Register, |_| async move {
        let request = value.parse()?;
        let order = request.order;
        tracing::Span::current().record("order_id", order.get());
        let lines = app
            .register(&caller.actor(), caller.tenant, request)
            .await?;
        Ok(Created::new(Registered {
            order_id: order,
            order_line_ids: lines,
            status: "PROCESSING",
        }))
    })
    .await
}
