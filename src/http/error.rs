//! The API's one error type. Every failure, from every route, renders as
//! `ErrorResponse` JSON (SPEC §4); 5xx bodies stay generic and the cause
//! goes to the log.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::{Value, json};

use crate::app::AppError;
use crate::domain::LineStatus;
use crate::store::StoreError;

tokio::task_local! {
    /// The current request's id, so any error rendered while serving it can carry it.
    pub static REQUEST_ID: String;
}

pub fn current_request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}

/// Every answer that is not a success. Domain refusals come from the use
/// cases as [`AppError`]; the rest are the HTTP edge's own.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(
        "Missing or invalid API token. Send `Authorization: Bearer <token>` with an active token."
    )]
    Unauthorized,
    #[error("This vendor is suspended. Contact the operator of this gateway.")]
    VendorSuspended,
    #[error("No route matches {method} {path}.")]
    RouteNotFound { method: String, path: String },
    #[error("Method {method} is not allowed here; use {allowed}.")]
    MethodNotAllowed {
        method: String,
        allowed: &'static str,
    },
    #[error("The request body is larger than the limit of {}.", bytes_in_words(*limit))]
    PayloadTooLarge { limit: usize },
    #[error("The request body did not arrive within {limit_ms} ms; send it at once.")]
    RequestTimeout { limit_ms: u64 },
    #[error(
        "Too many requests: {limit} per second are allowed here. Retry after {retry_after_seconds} s."
    )]
    RateLimited {
        limit: u32,
        retry_after_seconds: u64,
    },
    #[error("The request body must be {expected}.")]
    UnsupportedMediaType { expected: &'static str },
    #[error("The requested range lies outside the file of {size} bytes.")]
    RangeNotSatisfiable { size: u64 },
    #[error("Invalid request: {field}: {reason}")]
    InvalidRequest { field: String, reason: String },
    #[error(transparent)]
    App(#[from] AppError),
    #[error("{GENERIC_INTERNAL}")]
    Internal(#[source] anyhow::Error),
}

/// `65536 bytes (64 KiB)`, `5368709120 bytes (5.0 GiB)`.
fn bytes_in_words(n: usize) -> String {
    const KIB: usize = 1024;
    let unit = match n {
        n if n >= KIB * KIB * KIB => format!(" ({:.1} GiB)", n as f64 / (KIB * KIB * KIB) as f64),
        n if n >= KIB * KIB => format!(" ({:.1} MiB)", n as f64 / (KIB * KIB) as f64),
        n if n >= KIB => format!(" ({} KiB)", n / KIB),
        _ => String::new(),
    };
    format!("{n} bytes{unit}")
}

const GENERIC_INTERNAL: &str = "An internal error occurred; it has been logged.";

impl ApiError {
    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        Self::Internal(e.into())
    }

    pub fn invalid(field: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        Self::InvalidRequest {
            field: field.into(),
            reason: reason.to_string(),
        }
    }

    /// Stable snake_case identifier.
    pub fn name(&self) -> &'static str {
        self.meta().0
    }

    /// Stable number per name.
    pub fn code(&self) -> u32 {
        self.meta().1
    }

    fn meta(&self) -> (&'static str, u32, StatusCode) {
        use StatusCode as S;
        match self {
            Self::Unauthorized => ("unauthorized", 40101, S::UNAUTHORIZED),
            Self::VendorSuspended => ("vendor_suspended", 40301, S::FORBIDDEN),
            Self::RouteNotFound { .. } => ("not_found", 40401, S::NOT_FOUND),
            Self::MethodNotAllowed { .. } => ("method_not_allowed", 40501, S::METHOD_NOT_ALLOWED),
            Self::PayloadTooLarge { .. } => ("payload_too_large", 41301, S::PAYLOAD_TOO_LARGE),
            Self::RequestTimeout { .. } => ("request_timeout", 40801, S::REQUEST_TIMEOUT),
            Self::RateLimited { .. } => ("rate_limited", 42901, S::TOO_MANY_REQUESTS),
            Self::RangeNotSatisfiable { .. } => {
                ("range_not_satisfiable", 41601, S::RANGE_NOT_SATISFIABLE)
            }
            Self::UnsupportedMediaType { .. } => {
                ("unsupported_media_type", 41501, S::UNSUPPORTED_MEDIA_TYPE)
            }
            Self::InvalidRequest { .. } => INVALID_REQUEST,
            Self::App(e) => app_meta(e),
            Self::Internal(_) => INTERNAL,
        }
    }

    pub fn details(&self) -> Option<Value> {
        match self {
            Self::InvalidRequest { field, reason }
            | Self::App(AppError::Invalid { field, reason }) => {
                Some(json!({"field": field, "reason": reason}))
            }
            Self::MethodNotAllowed { allowed, .. } => Some(json!({"allowed": allowed})),
            Self::PayloadTooLarge { limit } => Some(json!({"limit_bytes": limit})),
            Self::RequestTimeout { limit_ms } => Some(json!({"limit_ms": limit_ms})),
            Self::RateLimited {
                limit,
                retry_after_seconds,
            } => {
                Some(json!({"limit_per_second": limit, "retry_after_seconds": retry_after_seconds}))
            }
            Self::RangeNotSatisfiable { size } => Some(json!({"size_bytes": size})),
            Self::UnsupportedMediaType { expected } => Some(json!({"expected": expected})),
            Self::App(e) => app_details(e),
            _ => None,
        }
    }

    /// Safe to show: a 500 says nothing of its cause (that goes to the log).
    pub fn message(&self) -> String {
        match self {
            Self::App(e) => app_message(e),
            Self::Internal(_) => GENERIC_INTERNAL.to_owned(),
            _ => self.to_string(),
        }
    }

    pub fn body(&self) -> ErrorResponse {
        ErrorResponse {
            name: self.name(),
            message: self.message(),
            code: self.code(),
            status: self.status_code().as_u16(),
            request_id: current_request_id(),
            details: self.details(),
        }
    }

    /// A short page for people who open a link in a browser.
    pub fn html_response(&self) -> HttpResponse {
        // What happened, and what the buyer can do about it, per reason.
        let (title, next) = match self.name() {
            "access_revoked" => (
                "This download is no longer available",
                "The shop has withdrawn access to this file, for example after a refund. \
                 If you think this is a mistake, contact the shop you bought it from and \
                 give them the reference below.",
            ),
            "link_expired" => (
                "This link has expired",
                "Download links work for a limited time only; your purchase is still valid. \
                 Go back to the shop (your order page or its email) for a fresh link.",
            ),
            "link_invalid" => (
                "This link is not valid",
                "It may be cut short: copy the whole link from the shop's email, or ask \
                 the shop for a new one.",
            ),
            "download_limit_reached" => (
                "No downloads left on this purchase",
                "You have used every download this purchase includes. Contact the shop \
                 you bought it from if you need another; give them the reference below.",
            ),
            "revocation_unavailable" | "storage_unavailable" | "database_unavailable" => (
                "Temporarily unavailable",
                "Nothing is wrong with your link. Please retry in a few seconds.",
            ),
            "rate_limited" => ("Too many requests", "Please wait a moment, then retry."),
            "file_unavailable" => (
                "The file cannot be delivered right now",
                "The shop's file store is missing this file. Contact the shop and give \
                 them the reference below.",
            ),
            _ => (
                self.status_code().canonical_reason().unwrap_or("Error"),
                "Contact the shop you bought from and give them the reference below.",
            ),
        };
        let body = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title}</title></head>\
             <body style=\"font:16px/1.5 system-ui,sans-serif;color:#1d2330;max-width:36em;\
             margin:0 auto;padding:2em 1.25em\"><h1 style=\"font-size:1.4em\">{title}</h1>\
             <p>{msg}</p><p>{next}</p>\
             <p style=\"color:#5f6b7c;font-size:.9em\">Reference: <code>{rid}</code></p></body></html>",
            title = html_escape(title),
            msg = html_escape(&self.message()),
            next = html_escape(next),
            rid = html_escape(&current_request_id()),
        );
        HttpResponse::build(self.status_code())
            .content_type("text/html; charset=utf-8")
            .insert_header(("Cache-Control", "no-store"))
            .body(body)
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorResponse {
    pub name: &'static str,
    pub message: String,
    pub code: u32,
    pub status: u16,
    pub request_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

const INVALID_REQUEST: (&str, u32, StatusCode) =
    ("invalid_request", 42200, StatusCode::UNPROCESSABLE_ENTITY);
const INTERNAL: (&str, u32, StatusCode) =
    ("internal_error", 50001, StatusCode::INTERNAL_SERVER_ERROR);

/// The HTTP status of a use case's refusal (the console answers with it too).
pub fn app_status(e: &AppError) -> StatusCode {
    app_meta(e).2
}

/// A message about a use case's refusal that is safe to show anyone.
pub fn app_message(e: &AppError) -> String {
    match e {
        AppError::Store(StoreError::Unavailable { .. }) => {
            "The database is unavailable right now; retry in a few seconds.".to_owned()
        }
        AppError::Store(_) | AppError::Internal(_) => GENERIC_INTERNAL.to_owned(),
        other => other.to_string(),
    }
}

/// Status, stable name and code of each domain refusal.
fn app_meta(e: &AppError) -> (&'static str, u32, StatusCode) {
    use StatusCode as S;
    match e {
        AppError::LinkInvalid => ("link_invalid", 40302, S::FORBIDDEN),
        AppError::AccessRevoked => ("access_revoked", 40303, S::FORBIDDEN),
        AppError::RoleForbidden { .. } => ("role_forbidden", 40304, S::FORBIDDEN),
        AppError::OrderNotFound { .. } => ("order_not_found", 40402, S::NOT_FOUND),
        AppError::AssetNotFound(_) => ("asset_not_found", 40403, S::NOT_FOUND),
        AppError::FileUnavailable => ("file_unavailable", 40404, S::NOT_FOUND),
        AppError::VendorNotFound(_) => ("vendor_not_found", 40405, S::NOT_FOUND),
        AppError::TokenNotFound(_) => ("token_not_found", 40406, S::NOT_FOUND),
        AppError::AdminNotFound(_) => ("admin_not_found", 40409, S::NOT_FOUND),
        AppError::WebhookNotFound(_) => ("webhook_not_found", 40407, S::NOT_FOUND),
        AppError::DeliveryNotFound(_) | AppError::EventNotFound(_) => {
            ("delivery_not_found", 40408, S::NOT_FOUND)
        }
        AppError::WebhookUrlNotAllowed(_) => {
            ("webhook_url_not_allowed", 42208, S::UNPROCESSABLE_ENTITY)
        }
        AppError::WebhookLimitReached { .. } => {
            ("webhook_limit_reached", 42209, S::UNPROCESSABLE_ENTITY)
        }
        AppError::OrderExists { .. } => ("order_exists", 40901, S::CONFLICT),
        AppError::AssetExists(_) => ("asset_exists", 40903, S::CONFLICT),
        AppError::LinkExpired => ("link_expired", 41001, S::GONE),
        AppError::QuantityBelowMinimum { .. } => ("quantity_below_minimum", 40001, S::BAD_REQUEST),
        AppError::RegionNotAllowed { .. } => ("region_not_allowed", 40002, S::BAD_REQUEST),
        AppError::Invalid { .. } => INVALID_REQUEST,
        AppError::OrderNotCancelable { .. } => {
            ("order_not_cancelable", 42201, S::UNPROCESSABLE_ENTITY)
        }
        AppError::OrderNotAccessible { .. } => {
            ("order_not_accessible", 42202, S::UNPROCESSABLE_ENTITY)
        }
        AppError::AssetRetired(_) => ("asset_retired", 42210, S::UNPROCESSABLE_ENTITY),
        AppError::AssetNotViewable(_) => ("asset_not_viewable", 42203, S::UNPROCESSABLE_ENTITY),
        AppError::StampingUnsupported { .. } => {
            ("stamping_unsupported", 42211, S::UNPROCESSABLE_ENTITY)
        }
        AppError::StampLocked(_) => INVALID_REQUEST,
        AppError::AccessWindowClosed { .. } => {
            ("access_window_closed", 42212, S::UNPROCESSABLE_ENTITY)
        }
        AppError::ValidationTokenInvalid => {
            ("validation_token_invalid", 42204, S::UNPROCESSABLE_ENTITY)
        }
        AppError::ValidationTokenExpired => {
            ("validation_token_expired", 42205, S::UNPROCESSABLE_ENTITY)
        }
        AppError::ValidationTokenUsed => ("validation_token_used", 42206, S::UNPROCESSABLE_ENTITY),
        AppError::RevocationUnavailable => {
            ("revocation_unavailable", 50301, S::SERVICE_UNAVAILABLE)
        }
        AppError::StorageUnavailable => ("storage_unavailable", 50303, S::SERVICE_UNAVAILABLE),
        AppError::IdempotencyInProgress => ("idempotency_request_in_progress", 40902, S::CONFLICT),
        AppError::IdempotencyKeyReused => {
            ("idempotency_key_reused", 42207, S::UNPROCESSABLE_ENTITY)
        }
        AppError::Store(StoreError::Unavailable { .. }) => {
            ("database_unavailable", 50302, S::SERVICE_UNAVAILABLE)
        }
        AppError::Store(_) | AppError::Internal(_) => INTERNAL,
    }
}

fn app_details(e: &AppError) -> Option<Value> {
    match e {
        AppError::OrderNotFound { order, line } => {
            Some(json!({"order_id": order, "order_line_id": line}))
        }
        AppError::AssetNotFound(asset)
        | AppError::AssetNotViewable(asset)
        | AppError::AssetRetired(asset)
        | AppError::AssetExists(asset) => Some(json!({"asset_id": asset})),
        AppError::StampLocked(asset) => Some(json!({"asset_id": asset, "field": "policies.stamp"})),
        AppError::AccessWindowClosed {
            order,
            line,
            until_ms,
        } => Some(json!({
            "order_id": order,
            "order_line_id": line,
            "access_until": crate::domain::ms_to_rfc3339(*until_ms),
        })),
        AppError::StampingUnsupported { reason } => {
            Some(json!({"field": "stamp", "reason": reason}))
        }
        AppError::VendorNotFound(vendor) => Some(json!({"vendor_id": vendor})),
        AppError::TokenNotFound(token) => Some(json!({"token_id": token})),
        AppError::AdminNotFound(admin) => Some(json!({"admin_id": admin})),
        AppError::RoleForbidden { role, needed, .. } => {
            Some(json!({"role": role, "required_role": needed}))
        }
        AppError::WebhookNotFound(id) => Some(json!({"webhook_id": id})),
        AppError::WebhookLimitReached { limit } => Some(json!({"limit": limit})),
        AppError::DeliveryNotFound(id) => Some(json!({"delivery_id": id})),
        AppError::EventNotFound(id) => Some(json!({"event_id": id})),
        AppError::OrderExists { order, line } => {
            Some(json!({"order_id": order, "order_line_id": line}))
        }
        AppError::OrderNotCancelable { current_status, .. } => Some(json!({
            "current_status": current_status,
            "cancelable_statuses": LineStatus::CANCELABLE,
        })),
        AppError::OrderNotAccessible { current_status, .. } => {
            Some(json!({"current_status": current_status}))
        }
        AppError::QuantityBelowMinimum {
            quantity, min_qty, ..
        } => Some(json!({"quantity": quantity, "min_qty": min_qty})),
        AppError::RegionNotAllowed {
            country, countries, ..
        } => Some(json!({"country_code": country, "countries": countries.codes()})),
        _ => None,
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.meta().2
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Internal(e) | Self::App(AppError::Internal(e)) => {
                tracing::error!(error = ?e, "internal error");
            }
            Self::App(AppError::Store(e @ StoreError::Unavailable { .. })) => {
                tracing::warn!(op = e.op(), error = ?e, "database unavailable");
            }
            Self::App(AppError::Store(e)) => {
                tracing::error!(op = e.op(), error = ?e, "database operation failed");
            }
            _ => {}
        }
        let mut res = HttpResponse::build(self.status_code());
        if let Self::MethodNotAllowed { allowed, .. } = self {
            res.insert_header(("Allow", *allowed));
        }
        if self.status_code() == StatusCode::SERVICE_UNAVAILABLE {
            res.insert_header(("Retry-After", "2"));
        }
        match self {
            Self::Unauthorized => {
                res.insert_header(("WWW-Authenticate", "Bearer realm=\"assetgate\""));
            }
            Self::RangeNotSatisfiable { size } => {
                res.insert_header(("Content-Range", format!("bytes */{size}")));
            }
            Self::RateLimited {
                retry_after_seconds,
                ..
            } => {
                res.insert_header(("Retry-After", retry_after_seconds.to_string()));
            }
            Self::RequestTimeout { .. } => {
                // The rest of the body may still be on its way: do not read it.
                res.force_close();
            }
            _ => {}
        }
        res.json(self.body())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_read_in_bytes_and_in_a_unit_people_use() {
        let message = |limit| ApiError::PayloadTooLarge { limit }.to_string();
        assert_eq!(
            message(65_536),
            "The request body is larger than the limit of 65536 bytes (64 KiB)."
        );
        assert!(message(40 << 20).contains("41943040 bytes (40.0 MiB)"));
        assert!(message(5 << 30).contains("(5.0 GiB)"));
        assert!(message(100).ends_with("of 100 bytes."));
    }

    #[test]
    fn every_name_has_one_code_and_the_status_matches_the_code_prefix() {
        let all = [
            ApiError::Unauthorized,
            ApiError::VendorSuspended,
            ApiError::App(AppError::LinkInvalid),
            ApiError::App(AppError::AccessRevoked),
            ApiError::App(AppError::LinkExpired),
            ApiError::App(AppError::RevocationUnavailable),
            ApiError::App(AppError::ValidationTokenInvalid),
            ApiError::App(AppError::ValidationTokenExpired),
            ApiError::App(AppError::ValidationTokenUsed),
            ApiError::App(AppError::IdempotencyKeyReused),
            ApiError::RateLimited {
                limit: 1,
                retry_after_seconds: 1,
            },
            ApiError::App(AppError::IdempotencyInProgress),
            ApiError::App(AppError::FileUnavailable),
            ApiError::App(AppError::StorageUnavailable),
            ApiError::UnsupportedMediaType {
                expected: "multipart/form-data",
            },
            ApiError::App(AppError::AssetRetired(
                crate::domain::AssetId::parse(1).expect("an id"),
            )),
            ApiError::invalid("x", "y"),
            ApiError::internal(anyhow::anyhow!("secret sql")),
        ];
        let mut codes = std::collections::HashSet::new();
        for e in &all {
            assert!(codes.insert(e.code()), "duplicate code for {}", e.name());
            assert_eq!(
                u32::from(e.status_code().as_u16()),
                e.code() / 100,
                "{}",
                e.name()
            );
        }
    }

    #[test]
    fn internal_errors_do_not_leak_their_cause() {
        for e in [
            ApiError::internal(anyhow::anyhow!("SELECT * FROM secrets at /etc/x")),
            ApiError::App(AppError::internal(anyhow::anyhow!("SELECT * FROM secrets"))),
        ] {
            let body = e.body();
            assert_eq!(
                body.message,
                "An internal error occurred; it has been logged."
            );
            assert!(body.details.is_none());
        }
    }
}
