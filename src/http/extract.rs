//! Request extractors. The caller is an extractor (`Vendor`), so a handler
//! cannot forget authentication; bodies and query strings are parsed with the
//! path of the offending field kept for the 422 answer.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage as _, HttpRequest, web};
use futures_util::StreamExt as _;
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::app::operators::Operator;
use crate::app::{Authentication, VendorCaller};
use crate::domain::IdempotencyKey;
use crate::http::limits::LoginSurface;
use crate::http::state::AppState;

/// An authenticated vendor backend, bound to one environment by its token.
#[derive(Clone, Copy, Debug)]
pub struct Vendor(pub VendorCaller);

impl std::ops::Deref for Vendor {
    type Target = VendorCaller;
    fn deref(&self) -> &VendorCaller {
        &self.0
    }
}

fn state(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("application state missing")))
}

/// The token of `Authorization: Bearer <token>`, if the header has that form.
fn bearer(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
}

/// The state, and the bearer token of a client allowed to try one now (401
/// without a token, 429 while its failed logins are throttled).
fn credentials(req: &HttpRequest) -> Result<(web::Data<AppState>, String), ApiError> {
    let state = state(req)?;
    let presented = bearer(req).ok_or(ApiError::Unauthorized)?.to_owned();
    state.limits.login_allowed(req)?;
    Ok((state, presented))
}

impl Vendor {
    async fn authenticate(req: HttpRequest) -> Result<Self, ApiError> {
        let (state, presented) = credentials(&req)?;
        let caller = match state.app.authenticate_vendor(&presented).await? {
            Authentication::Unknown => {
                state.limits.login_failed(&req, LoginSurface::VendorApi);
                return Err(ApiError::Unauthorized);
            }
            Authentication::Suspended => return Err(ApiError::VendorSuspended),
            Authentication::Vendor(caller) => caller,
        };
        state.limits.vendor(caller.token)?;
        tracing::Span::current().record("vendor_id", tracing::field::display(caller.tenant.vendor));
        req.extensions_mut().insert(caller.tenant.environment);
        Ok(Self(caller))
    }
}

impl FromRequest for Vendor {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(Self::authenticate(req.clone()))
    }
}

/// An authenticated operator (admin token). Vendor tokens are refused (401).
#[derive(Clone, Debug)]
pub struct Admin(pub Operator);

impl Admin {
    async fn authenticate(req: HttpRequest) -> Result<Self, ApiError> {
        let (state, presented) = credentials(&req)?;
        let Some(operator) = state.app.authenticate_admin(&presented).await? else {
            state.limits.login_failed(&req, LoginSurface::AdminApi);
            return Err(ApiError::Unauthorized);
        };
        tracing::Span::current().record("admin", tracing::field::display(&operator.name));
        Ok(Self(operator))
    }
}

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(Self::authenticate(req.clone()))
    }
}

/// Optional `Idempotency-Key` header, parsed.
pub struct IdempotencyHeader(pub Option<IdempotencyKey>);

impl FromRequest for IdempotencyHeader {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(match req.headers().get("Idempotency-Key") {
            None => Ok(Self(None)),
            Some(v) => v
                .to_str()
                .map_err(|_| ApiError::invalid("Idempotency-Key", "must be visible ASCII"))
                .and_then(|s| {
                    IdempotencyKey::parse(s).map_err(|e| ApiError::invalid("Idempotency-Key", e))
                })
                .map(|k| Self(Some(k))),
        })
    }
}

impl utoipa::IntoParams for IdempotencyHeader {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
        use utoipa::openapi::{Required, schema::Type};
        vec![
            ParameterBuilder::new()
                .name("Idempotency-Key")
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some("Makes a retry answer as the first request did"))
                .schema(Some(
                    utoipa::openapi::ObjectBuilder::new().schema_type(Type::String),
                ))
                .build(),
        ]
    }
}

/// `.field("order_id")`: a refused value becomes a 422 naming its field.
pub trait Field<T> {
    fn field(self, name: &str) -> Result<T, ApiError>;
}

impl<T> Field<T> for Result<T, crate::domain::ValueError> {
    fn field(self, name: &str) -> Result<T, ApiError> {
        self.map_err(|e| ApiError::invalid(name, e))
    }
}

/// Turns a serde error with its path into a 422 naming the field; `whole`
/// (`body` or `query`) when no field can be named.
fn field_error<E: std::fmt::Display>(err: serde_path_to_error::Error<E>, whole: &str) -> ApiError {
    let path = err.path().to_string();
    let reason = err.inner().to_string();
    // serde reports a missing or repeated field at the parent's path; name the field itself.
    let named = ["missing field `", "duplicate field `"]
        .iter()
        .find_map(|p| reason.strip_prefix(p))
        .and_then(|r| r.split('`').next())
        .map(str::to_owned);
    // `.` is the root and `?` an unknown position (a syntax error).
    let field = match (path.as_str(), named) {
        ("." | "?", Some(f)) => f,
        (p, Some(f)) => format!("{p}.{f}"),
        ("." | "?", None) => whole.to_owned(),
        (p, None) => p.to_owned(),
    };
    let reason = reason
        .split(" at line ")
        .next()
        .unwrap_or(&reason)
        .to_owned();
    ApiError::InvalidRequest { field, reason }
}

/// A JSON body parsed into `T`, with the raw bytes kept (for idempotency fingerprints).
pub struct ApiJson<T> {
    pub value: T,
    pub raw: web::Bytes,
}

/// Reads the whole body, refusing more than `server.max_body_bytes` or a body
/// slower than `server.body_timeout_ms`.
pub async fn read_body(req: &HttpRequest, payload: &mut Payload) -> Result<web::Bytes, ApiError> {
    let server = &state(req)?.settings.server;
    let (limit, limit_ms) = (server.max_body_bytes, server.body_timeout_ms);
    tokio::time::timeout(
        std::time::Duration::from_millis(limit_ms),
        read_bounded(req, payload, limit),
    )
    .await
    .map_err(|_| ApiError::RequestTimeout { limit_ms })?
}

async fn read_bounded(
    req: &HttpRequest,
    payload: &mut Payload,
    limit: usize,
) -> Result<web::Bytes, ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::invalid("body", format!("could not be read: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

pub fn parse_json<T: DeserializeOwned>(raw: &[u8]) -> Result<T, ApiError> {
    // serde would accept `[..]` for a struct, positionally; clients mean objects.
    if raw.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::invalid("body", "a JSON object is required"));
    }
    let mut de = serde_json::Deserializer::from_slice(raw);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| field_error(e, "body"))?;
    // `{…}xyz` is not one JSON object.
    de.end()
        .map_err(|_| ApiError::invalid("body", "unexpected characters after the JSON object"))?;
    Ok(value)
}

/// The extractor future shared by the body extractors: read (bounded), then `parse`.
fn with_body<T: 'static>(
    req: &HttpRequest,
    payload: &mut Payload,
    parse: fn(web::Bytes) -> Result<T, ApiError>,
) -> LocalBoxFuture<'static, Result<T, ApiError>> {
    let req = req.clone();
    let mut payload = payload.take();
    Box::pin(async move { parse(read_body(&req, &mut payload).await?) })
}

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        with_body(req, payload, |raw| {
            Ok(Self {
                value: parse_json(&raw)?,
                raw,
            })
        })
    }
}

/// Optional body: empty is `None`, anything else must parse.
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned + 'static> FromRequest for OptionalJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        with_body(req, payload, |raw| {
            if raw.iter().all(u8::is_ascii_whitespace) {
                Ok(Self(None))
            } else {
                parse_json(&raw).map(|v| Self(Some(v)))
            }
        })
    }
}

/// A query string parsed into `T`.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned> FromRequest for ApiQuery<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let parsed = form_parse::<T>(req.query_string());
        std::future::ready(parsed.map(Self))
    }
}

pub fn form_parse<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let pairs = form_urlencoded::parse(query.as_bytes());
    let de = serde_urlencoded::Deserializer::new(pairs);
    serde_path_to_error::deserialize(de).map_err(|e| field_error(e, "query"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Q {
        order_id: i64,
        order_line_id: Option<i64>,
    }

    #[test]
    fn query_errors_name_the_field() {
        let err = form_parse::<Q>("order_id=abc").err().map(|e| e.details());
        assert_eq!(
            err.flatten()
                .and_then(|d| d["field"].as_str().map(str::to_owned))
                .as_deref(),
            Some("order_id")
        );
        let err = form_parse::<Q>("order_line_id=1")
            .err()
            .map(|e| e.details());
        assert_eq!(
            err.flatten()
                .and_then(|d| d["field"].as_str().map(str::to_owned))
                .as_deref(),
            Some("order_id")
        );
        assert!(form_parse::<Q>("order_id=5&order_line_id=2").is_ok());
    }

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct B {
        parts: Vec<P>,
    }
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct P {
        asset_id: i64,
    }

    #[test]
    fn a_repeated_query_parameter_is_named() {
        let err = form_parse::<Q>("order_id=1&order_id=2")
            .err()
            .and_then(|e| e.details());
        assert_eq!(
            err.and_then(|d| d["field"].as_str().map(str::to_owned))
                .as_deref(),
            Some("order_id")
        );
    }

    #[test]
    fn trailing_characters_after_the_json_object_are_refused() {
        let err = parse_json::<P>(br#"{"asset_id": 1}xyz"#)
            .err()
            .and_then(|e| e.details());
        assert_eq!(
            err.and_then(|d| d["field"].as_str().map(str::to_owned))
                .as_deref(),
            Some("body")
        );
        assert!(parse_json::<P>(b"{\"asset_id\": 1}  \n").is_ok());
    }

    #[test]
    fn json_errors_name_the_nested_field() {
        let err = parse_json::<B>(br#"{"parts":[{"asset_id":"x"}]}"#)
            .err()
            .and_then(|e| e.details());
        assert_eq!(
            err.and_then(|d| d["field"].as_str().map(str::to_owned))
                .as_deref(),
            Some("parts[0].asset_id")
        );
        let err = parse_json::<B>(b"not json").err().and_then(|e| e.details());
        assert_eq!(
            err.and_then(|d| d["field"].as_str().map(str::to_owned))
                .as_deref(),
            Some("body")
        );
    }
}
