use std::collections::HashSet;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::validate::{check_purchase, find_asset, parse_country};
use crate::domain::secrets::hash_presented_validation_token;
use crate::domain::{
    CountryCode, CustomerName, Metadata, OrderLineId, OrderNumber, Price, Quantity, now_ms,
};
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, Caller, IdempotencyHeader};
use crate::http::idempotency::{Answer, idempotent};
use crate::state::AppState;
use crate::store::assets::Asset;
use crate::store::orders::{NewLine, RegisterOutcome, Registration};

#[derive(Deserialize)]
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

#[derive(Deserialize)]
struct PartBody {
    asset_id: i64,
    order_line_id: i64,
}

/// What is being bought, once the token or `asset_id` has been resolved.
struct Purchase {
    asset: Asset,
    quantity: Quantity,
    country: Option<CountryCode>,
    validation_token_id: Option<String>,
}

/// `POST /purchase/register`: records a sale; lines start PROCESSING.
#[tracing::instrument(skip_all)]
pub async fn register(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    IdempotencyHeader(key): IdempotencyHeader,
    body: ApiJson<RegisterBody>,
) -> Result<HttpResponse, ApiError> {
    // Register never answers a resumable 503, so every attempt is a first one.
    idempotent(&state, &caller, key, &req, &body.raw, |_| {
        run(&state, &caller, body.value)
    })
    .await
}

async fn run(state: &AppState, caller: &Caller, b: RegisterBody) -> Result<Answer, ApiError> {
    let order =
        OrderNumber::parse(b.order_number).map_err(|e| ApiError::invalid("order_number", e))?;
    let line_no =
        OrderLineId::parse(b.order_line_id).map_err(|e| ApiError::invalid("order_line_id", e))?;
    let customer =
        CustomerName::parse(&b.customer).map_err(|e| ApiError::invalid("customer", e))?;
    let unit_price =
        Price::parse(b.unit_price, "unit_price").map_err(|e| ApiError::invalid("unit_price", e))?;
    let line_price = Price::parse(b.line_item_price, "line_item_price")
        .map_err(|e| ApiError::invalid("line_item_price", e))?;
    let metadata = b
        .metadata
        .map(Metadata::parse)
        .transpose()
        .map_err(|e| ApiError::invalid("metadata", e))?;
    tracing::Span::current().record("order_id", order.get());

    let purchase = resolve_purchase(
        state,
        caller,
        &b.token,
        b.asset_id,
        b.quantity,
        b.country_code.as_deref(),
    )
    .await?;

    let mut seen = HashSet::from([line_no]);
    let mut parts = Vec::with_capacity(b.parts.len());
    for (i, part) in b.parts.iter().enumerate() {
        let part_line = OrderLineId::parse(part.order_line_id)
            .map_err(|e| ApiError::invalid(format!("parts[{i}].order_line_id"), e))?;
        if !seen.insert(part_line) {
            return Err(ApiError::invalid(
                format!("parts[{i}].order_line_id"),
                "each line of one registration needs its own order_line_id",
            ));
        }
        let asset = find_asset(state, part.asset_id).await?;
        parts.push((part_line, asset));
    }

    let base = |order_line_id, asset: &Asset, unit: f64, total: f64| NewLine {
        order_line_id,
        asset_id: asset.asset_id,
        customer: customer.as_str().to_owned(),
        unit_price: unit,
        line_item_price: total,
        quantity: purchase.quantity.get(),
        country_code: purchase.country.as_ref().map(|c| c.as_str().to_owned()),
        metadata: metadata.as_ref().map(Metadata::to_json_string),
    };
    // Parts are components of the main line: the price stays on the main line.
    let mut lines = vec![base(
        line_no,
        &purchase.asset,
        unit_price.get(),
        line_price.get(),
    )];
    lines.extend(parts.iter().map(|(id, asset)| base(*id, asset, 0.0, 0.0)));
    let line_ids: Vec<i64> = lines.iter().map(|l| l.order_line_id.get()).collect();

    let outcome = state
        .store
        .register(Registration {
            vendor: caller.vendor,
            environment: caller.environment,
            token: caller.token,
            order_number: order,
            validation_token_id: purchase.validation_token_id,
            lines,
        })
        .await?;
    match outcome {
        RegisterOutcome::Registered(_) => {
            state.fulfilment.wake();
            Ok(Answer {
                status: StatusCode::CREATED,
                body: json!({"order_id": order.get(), "order_line_ids": line_ids, "status": "PROCESSING"}),
            })
        }
        RegisterOutcome::Duplicate => Err(ApiError::OrderExists {
            order_id: order.get(),
            order_line_id: line_no.get(),
        }),
        RegisterOutcome::ValidationTokenGone => Err(ApiError::ValidationTokenUsed),
    }
}

async fn resolve_purchase(
    state: &AppState,
    caller: &Caller,
    token: &Option<String>,
    asset_id: Option<i64>,
    quantity: Option<i64>,
    country: Option<&str>,
) -> Result<Purchase, ApiError> {
    let quantity = quantity
        .map(Quantity::parse)
        .transpose()
        .map_err(|e| ApiError::invalid("quantity", e))?;
    let country = parse_country(country)?;
    let Some(token) = token else {
        let raw = asset_id
            .ok_or_else(|| ApiError::invalid("asset_id", "either token or asset_id is required"))?;
        let asset = find_asset(state, raw).await?;
        let quantity =
            quantity.unwrap_or(Quantity::parse(1).map_err(|e| ApiError::invalid("quantity", e))?);
        check_purchase(&asset, quantity, country.as_ref())?;
        return Ok(Purchase {
            asset,
            quantity,
            country,
            validation_token_id: None,
        });
    };
    let hash =
        hash_presented_validation_token(token.trim()).ok_or(ApiError::ValidationTokenInvalid)?;
    let found = state
        .store
        .find_validation_token(&hash)
        .await?
        .ok_or(ApiError::ValidationTokenInvalid)?;
    // A token of another vendor or environment answers as if it did not exist.
    if found.vendor != caller.vendor.to_string() || found.environment != caller.environment.as_str()
    {
        return Err(ApiError::ValidationTokenInvalid);
    }
    if found.used {
        return Err(ApiError::ValidationTokenUsed);
    }
    if found.expires_at_ms <= now_ms() {
        return Err(ApiError::ValidationTokenExpired);
    }
    if asset_id.is_some_and(|a| a != found.asset_id.get()) {
        return Err(ApiError::invalid(
            "asset_id",
            "does not match the validated asset",
        ));
    }
    if quantity.is_some_and(|q| q.get() != found.quantity) {
        return Err(ApiError::invalid(
            "quantity",
            "does not match the validated quantity",
        ));
    }
    let asset = state
        .store
        .get_asset(found.asset_id)
        .await?
        .ok_or(ApiError::AssetNotFound {
            asset_id: found.asset_id.get(),
        })?;
    Ok(Purchase {
        asset,
        quantity: Quantity::parse(i64::from(found.quantity))
            .map_err(|e| ApiError::invalid("quantity", e))?,
        country: parse_country(found.country_code.as_deref())?,
        validation_token_id: Some(found.id),
    })
}
