//! What a route takes from its path, as types: `At(id): At<WebhookId>` in a
//! handler's arguments parses the segment (422 naming it when it does not
//! parse), and `params(At<WebhookId>)` in its `#[utoipa::path]` documents it
//! from the same place. `InOrder` does the same for the
//! `/{vendor_id}/{environment}/{order_id}` an order is addressed by.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use utoipa::IntoParams;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{RefOr, Required, Schema};

use super::error::ApiError;
use crate::domain::{
    AssetId, Environment, OrderLineId, OrderNumber, OrderRef, Tenant, TokenId, VendorId, WebhookId,
};

/// A value addressed by one path segment.
pub trait Segment: Sized {
    /// The segment's name in the route (`{webhook_id}`).
    const NAME: &'static str;
    /// What it names, for the document.
    const DESCRIPTION: &'static str;
    /// Documented as an integer (else a string).
    const INTEGER: bool = false;
    fn parse(raw: &str) -> Result<Self, String>;
}

/// A whole number ≥ 1 in the path, then the domain's own check.
fn number<T, E: std::fmt::Display>(
    raw: &str,
    parse: impl FnOnce(i64) -> Result<T, E>,
) -> Result<T, String> {
    let n = raw
        .parse::<i64>()
        .map_err(|_| "must be an integer >= 1".to_owned())?;
    parse(n).map_err(|e| e.to_string())
}

impl Segment for VendorId {
    const NAME: &'static str = "vendor_id";
    const DESCRIPTION: &'static str = "The vendor";
    fn parse(raw: &str) -> Result<Self, String> {
        VendorId::parse(raw).map_err(|e| e.to_string())
    }
}

impl Segment for WebhookId {
    const NAME: &'static str = "webhook_id";
    const DESCRIPTION: &'static str = "The endpoint";
    fn parse(raw: &str) -> Result<Self, String> {
        WebhookId::parse(raw).map_err(|e| e.to_string())
    }
}

impl Segment for TokenId {
    const NAME: &'static str = "token_id";
    const DESCRIPTION: &'static str = "The token";
    fn parse(raw: &str) -> Result<Self, String> {
        TokenId::parse(raw).map_err(|e| e.to_string())
    }
}

impl Segment for OrderLineId {
    const NAME: &'static str = "order_line_id";
    const DESCRIPTION: &'static str = "The order line";
    const INTEGER: bool = true;
    fn parse(raw: &str) -> Result<Self, String> {
        number(raw, OrderLineId::parse)
    }
}

impl Segment for AssetId {
    const NAME: &'static str = "asset_id";
    const DESCRIPTION: &'static str = "The asset";
    const INTEGER: bool = true;
    fn parse(raw: &str) -> Result<Self, String> {
        number(raw, AssetId::parse)
    }
}

/// A webhook delivery's number.
#[derive(Debug, Clone, Copy)]
pub struct DeliveryNumber(pub i64);

impl Segment for DeliveryNumber {
    const NAME: &'static str = "delivery_id";
    const DESCRIPTION: &'static str = "The delivery";
    const INTEGER: bool = true;
    fn parse(raw: &str) -> Result<Self, String> {
        number(raw, |n| Ok::<_, std::convert::Infallible>(Self(n)))
    }
}

/// A webhook event's id (`webhook-id` of its deliveries).
#[derive(Debug, Clone)]
pub struct EventId(pub String);

impl Segment for EventId {
    const NAME: &'static str = "event_id";
    const DESCRIPTION: &'static str = "The event (its `webhook-id` header)";
    const INTEGER: bool = false;
    fn parse(raw: &str) -> Result<Self, String> {
        let fits = (1..=100).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if fits {
            Ok(Self(raw.to_owned()))
        } else {
            Err("must be an event id as `GET /webhooks/{id}/deliveries` lists it".to_owned())
        }
    }
}

/// The segment `T` of the matched route, parsed (422 naming it).
pub fn segment<T: Segment>(req: &HttpRequest) -> Result<T, ApiError> {
    let raw = req.match_info().get(T::NAME).unwrap_or_default();
    T::parse(raw).map_err(|e| ApiError::invalid(T::NAME, e))
}

/// The order a path `/{vendor_id}/{environment}/{order_id}` names.
pub fn order_of(req: &HttpRequest) -> Result<OrderRef, ApiError> {
    let tenant = Tenant {
        vendor: segment(req)?,
        environment: req
            .match_info()
            .get("environment")
            .unwrap_or_default()
            .parse::<Environment>()
            .map_err(|e| ApiError::invalid("environment", e))?,
    };
    let order = req.match_info().get("order_id").unwrap_or_default();
    let order = number(order, OrderNumber::parse).map_err(|e| ApiError::invalid("order_id", e))?;
    Ok(tenant.order(order))
}

fn parameter(name: &str, description: &str, integer: bool) -> Parameter {
    let schema = if integer {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
    } else {
        ObjectBuilder::new().schema_type(Type::String)
    };
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(description))
        .schema(Some(RefOr::<Schema>::T(schema.into())))
        .build()
}

/// `At(id): At<WebhookId>`: a value from the path.
pub struct At<T>(pub T);

impl<T: Segment> FromRequest for At<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(segment(req).map(Self))
    }
}

impl<T: Segment> IntoParams for At<T> {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![parameter(T::NAME, T::DESCRIPTION, T::INTEGER)]
    }
}

/// `InOrder(order): InOrder`: the order its path names.
pub struct InOrder(pub OrderRef);

impl FromRequest for InOrder {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(order_of(req).map(Self))
    }
}

impl IntoParams for InOrder {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            parameter("vendor_id", "The vendor", false),
            parameter("environment", "LIVE or SANDBOX", false),
            parameter("order_id", "The order number", true),
        ]
    }
}
