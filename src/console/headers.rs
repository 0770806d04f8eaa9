//! Headers on every console response: a strict Content-Security-Policy (only
//! this origin's scripts and styles, no inline script, no eval), no framing,
//! no sniffing, no referrer, no caching.

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};

pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
    base-uri 'none'; object-src 'none'";

pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let static_file = req.path().starts_with("/admin/static/");
    let mut res = next.call(req).await?;
    set_headers(
        res.headers_mut(),
        &[
            ("content-security-policy", CSP),
            ("x-frame-options", "DENY"),
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "no-referrer"),
            ("cross-origin-opener-policy", "same-origin"),
        ],
    );
    if !static_file {
        set_headers(res.headers_mut(), &[("cache-control", "no-store")]);
    }
    Ok(res)
}

/// Sets (replaces) each of these headers.
fn set_headers(headers: &mut HeaderMap, pairs: &[(&'static str, &'static str)]) {
    for (name, value) in pairs {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
}
