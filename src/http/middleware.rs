//! Cross-cutting middleware: request ids, panics as JSON 500s, `X-Environment`.

use std::panic::AssertUnwindSafe;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::{DefaultHeaders, Next};
use actix_web::{Error, HttpMessage as _, ResponseError as _};
use futures_util::FutureExt as _;

use super::error::{ApiError, REQUEST_ID};
use crate::domain::Environment;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The request's id: an incoming `X-Request-Id` if sane, else a new UUID.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

fn sane(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

pub async fn request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| sane(v))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    req.extensions_mut().insert(RequestId(id.clone()));
    let header = HeaderValue::from_str(&id).ok();
    // The async block defers `next.call` so all of it runs inside the scope.
    let mut res = REQUEST_ID
        .scope(id, async move { next.call(req).await })
        .await?;
    if let Some(value) = header {
        res.headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    Ok(res)
}

/// A panic in a handler becomes a JSON 500 that reveals nothing.
pub async fn catch_panic(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let http_req = req.request().clone();
    match AssertUnwindSafe(next.call(req)).catch_unwind().await {
        Ok(res) => res.map(ServiceResponse::map_into_left_body),
        Err(_) => {
            let err = ApiError::internal(anyhow::anyhow!("request handler panicked"));
            let res = err.error_response();
            Ok(ServiceResponse::new(http_req, res).map_into_right_body())
        }
    }
}

/// Every authenticated response says which environment it served.
pub async fn environment_header(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let mut res = next.call(req).await?;
    let env = res.request().extensions().get::<Environment>().copied();
    if let Some(env) = env {
        res.headers_mut().insert(
            HeaderName::from_static("x-environment"),
            HeaderValue::from_static(env.as_str()),
        );
    }
    Ok(res)
}

/// Counts every request by route pattern, method and status, and times it
/// to the response head (see [`crate::metrics`]).
pub async fn record_metrics(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = std::time::Instant::now();
    let method = crate::metrics::method_label(req.method());
    let res = next.call(req).await?;
    let route = res.request().match_pattern().map_or(
        std::borrow::Cow::Borrowed("unmatched"),
        std::borrow::Cow::Owned,
    );
    crate::metrics::record_request(route, method, res.status().as_u16(), started);
    Ok(res)
}

/// The API docs' policy: the Swagger UI is served from this origin only (it
/// sets inline styles, so styles may be inline; scripts may not).
pub const DOCS_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
    base-uri 'none'; object-src 'none'";

/// The API's answers (links, buyers' names, tokens) are never stored by a
/// cache and never sniffed. Per API resource (`http::guarded`): downloads
/// and the console set their own.
pub fn api_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("cache-control", "no-store"))
        .add(("x-content-type-options", "nosniff"))
}

/// `/docs/` shares the console's origin: a Content-Security-Policy, no
/// framing, no sniffing, no referrer.
pub fn docs_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("content-security-policy", DOCS_CSP))
        .add(("x-frame-options", "DENY"))
        .add(("x-content-type-options", "nosniff"))
        .add(("referrer-policy", "no-referrer"))
}

#[cfg(test)]
mod tests {
    use super::sane;

    #[test]
    fn only_short_plain_request_ids_are_kept() {
        assert!(sane("abc-123_x.y:z"));
        assert!(!sane(""));
        assert!(!sane("a b"));
        assert!(!sane(&"a".repeat(129)));
        assert!(!sane("x\ny"));
    }
}
