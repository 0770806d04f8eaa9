//! The API's one error type. Every failure, from every route, renders as
//! `ErrorResponse` JSON (SPEC §4); 5xx bodies stay generic and the cause
//! goes to the log.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::{Value, json};

tokio::task_local! {
    /// The current request's id, so any error rendered while serving it can carry it.
    pub static REQUEST_ID: String;
}

pub fn current_request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}

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
    #[error("Order {order_id} was not found.")]
    OrderNotFound {
        order_id: i64,
        order_line_id: Option<i64>,
    },
    #[error("Asset {asset_id} was not found.")]
    AssetNotFound { asset_id: i64 },
    #[error("Method {method} is not allowed here; use {allowed}.")]
    MethodNotAllowed {
        method: String,
        allowed: &'static str,
    },
    #[error("Order line {order_line_id} of order {order_id} is already registered.")]
    OrderExists { order_id: i64, order_line_id: i64 },
    #[error("A request with this Idempotency-Key is still being processed; retry shortly.")]
    IdempotencyInProgress,
    #[error("The request body is larger than the limit of {limit} bytes.")]
    PayloadTooLarge { limit: usize },
    #[error("Invalid request: {field}: {reason}")]
    InvalidRequest { field: String, reason: String },
    #[error("{message}")]
    OrderNotCancelable {
        message: String,
        current_status: String,
    },
    #[error(
        "Order line {order_line_id} of order {order_id} is {current_status}; links are only available for COMPLETED lines."
    )]
    OrderNotAccessible {
        order_id: i64,
        order_line_id: i64,
        current_status: String,
    },
    #[error("Asset {asset_id} cannot be viewed online; request a download URL instead.")]
    AssetNotViewable { asset_id: i64 },
    #[error("The validation token is not valid for this vendor and environment.")]
    ValidationTokenInvalid,
    #[error("The validation token has expired; validate the purchase again.")]
    ValidationTokenExpired,
    #[error("The validation token has already been used; validate the purchase again.")]
    ValidationTokenUsed,
    #[error("This Idempotency-Key was already used with a different request.")]
    IdempotencyKeyReused,
    #[error("Quantity {quantity} is below the minimum of {min_qty} for asset {asset_id}.")]
    QuantityBelowMinimum {
        asset_id: i64,
        quantity: i64,
        min_qty: i32,
    },
    #[error("Asset {asset_id} may not be sold to this region.")]
    RegionNotAllowed {
        asset_id: i64,
        country_code: Option<String>,
        countries: Vec<String>,
    },
    #[error("This link is not valid.")]
    LinkInvalid,
    #[error("This link has been revoked.")]
    AccessRevoked,
    #[error("This link has expired; ask the shop for a new one.")]
    LinkExpired,
    #[error("The file for this link is not available.")]
    FileUnavailable,
    #[error("Revocation status cannot be confirmed right now; retry in a few seconds.")]
    RevocationUnavailable,
    #[error("An internal error occurred; it has been logged.")]
    Internal(#[source] anyhow::Error),
}

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
            Self::LinkInvalid => ("link_invalid", 40302, S::FORBIDDEN),
            Self::AccessRevoked => ("access_revoked", 40303, S::FORBIDDEN),
            Self::RouteNotFound { .. } => ("not_found", 40401, S::NOT_FOUND),
            Self::OrderNotFound { .. } => ("order_not_found", 40402, S::NOT_FOUND),
            Self::AssetNotFound { .. } => ("asset_not_found", 40403, S::NOT_FOUND),
            Self::FileUnavailable => ("file_unavailable", 40404, S::NOT_FOUND),
            Self::MethodNotAllowed { .. } => ("method_not_allowed", 40501, S::METHOD_NOT_ALLOWED),
            Self::OrderExists { .. } => ("order_exists", 40901, S::CONFLICT),
            Self::IdempotencyInProgress => ("idempotency_request_in_progress", 40902, S::CONFLICT),
            Self::LinkExpired => ("link_expired", 41001, S::GONE),
            Self::PayloadTooLarge { .. } => ("payload_too_large", 41301, S::PAYLOAD_TOO_LARGE),
            Self::QuantityBelowMinimum { .. } => ("quantity_below_minimum", 40001, S::BAD_REQUEST),
            Self::RegionNotAllowed { .. } => ("region_not_allowed", 40002, S::BAD_REQUEST),
            Self::InvalidRequest { .. } => ("invalid_request", 42200, S::UNPROCESSABLE_ENTITY),
            Self::OrderNotCancelable { .. } => {
                ("order_not_cancelable", 42201, S::UNPROCESSABLE_ENTITY)
            }
            Self::OrderNotAccessible { .. } => {
                ("order_not_accessible", 42202, S::UNPROCESSABLE_ENTITY)
            }
            Self::AssetNotViewable { .. } => ("asset_not_viewable", 42203, S::UNPROCESSABLE_ENTITY),
            Self::ValidationTokenInvalid => {
                ("validation_token_invalid", 42204, S::UNPROCESSABLE_ENTITY)
            }
            Self::ValidationTokenExpired => {
                ("validation_token_expired", 42205, S::UNPROCESSABLE_ENTITY)
            }
            Self::ValidationTokenUsed => ("validation_token_used", 42206, S::UNPROCESSABLE_ENTITY),
            Self::IdempotencyKeyReused => {
                ("idempotency_key_reused", 42207, S::UNPROCESSABLE_ENTITY)
            }
            Self::RevocationUnavailable => {
                ("revocation_unavailable", 50301, S::SERVICE_UNAVAILABLE)
            }
            Self::Internal(_) => ("internal_error", 50001, S::INTERNAL_SERVER_ERROR),
        }
    }

    pub fn details(&self) -> Option<Value> {
        match self {
            Self::InvalidRequest { field, reason } => {
                Some(json!({"field": field, "reason": reason}))
            }
            Self::OrderNotFound {
                order_id,
                order_line_id,
            } => Some(json!({"order_id": order_id, "order_line_id": order_line_id})),
            Self::AssetNotFound { asset_id } | Self::AssetNotViewable { asset_id } => {
                Some(json!({"asset_id": asset_id}))
            }
            Self::MethodNotAllowed { allowed, .. } => Some(json!({"allowed": allowed})),
            Self::OrderExists {
                order_id,
                order_line_id,
            } => Some(json!({"order_id": order_id, "order_line_id": order_line_id})),
            Self::PayloadTooLarge { limit } => Some(json!({"limit_bytes": limit})),
            Self::OrderNotCancelable { current_status, .. } => Some(json!({
                "current_status": current_status,
                "cancelable_statuses": ["PROCESSING", "COMPLETED"],
            })),
            Self::OrderNotAccessible { current_status, .. } => {
                Some(json!({"current_status": current_status}))
            }
            Self::QuantityBelowMinimum {
                quantity, min_qty, ..
            } => Some(json!({"quantity": quantity, "min_qty": min_qty})),
            Self::RegionNotAllowed {
                country_code,
                countries,
                ..
            } => Some(json!({"country_code": country_code, "countries": countries})),
            _ => None,
        }
    }

    pub fn body(&self) -> ErrorResponse {
        ErrorResponse {
            name: self.name(),
            message: self.to_string(),
            code: self.code(),
            status: self.status_code().as_u16(),
            request_id: current_request_id(),
            details: self.details(),
        }
    }

    /// A short page for people who open a link in a browser.
    pub fn html_response(&self) -> HttpResponse {
        let body = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\
             <body style=\"font-family:sans-serif;max-width:40em;margin:4em auto\"><h1>{title}</h1><p>{msg}</p>\
             <p style=\"color:#777\">Reference: {rid}</p></body></html>",
            title = self.status_code().canonical_reason().unwrap_or("Error"),
            msg = html_escape(&self.to_string()),
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

#[derive(Debug, Serialize)]
pub struct ErrorResponse {
    pub name: &'static str,
    pub message: String,
    pub code: u32,
    pub status: u16,
    pub request_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.meta().2
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Internal(e) = self {
            tracing::error!(error = ?e, "internal error");
        }
        let mut res = HttpResponse::build(self.status_code());
        if let Self::MethodNotAllowed { allowed, .. } = self {
            res.insert_header(("Allow", *allowed));
        }
        if matches!(self, Self::RevocationUnavailable) {
            res.insert_header(("Retry-After", "2"));
        }
        res.json(self.body())
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Internal(anyhow::Error::new(e).context("database"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_has_one_code_and_the_status_matches_the_code_prefix() {
        let all = [
            ApiError::Unauthorized,
            ApiError::VendorSuspended,
            ApiError::LinkInvalid,
            ApiError::AccessRevoked,
            ApiError::LinkExpired,
            ApiError::RevocationUnavailable,
            ApiError::ValidationTokenInvalid,
            ApiError::ValidationTokenExpired,
            ApiError::ValidationTokenUsed,
            ApiError::IdempotencyKeyReused,
            ApiError::IdempotencyInProgress,
            ApiError::FileUnavailable,
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
        let body = ApiError::internal(anyhow::anyhow!("SELECT * FROM secrets at /etc/x")).body();
        assert_eq!(
            body.message,
            "An internal error occurred; it has been logged."
        );
        assert!(body.details.is_none());
    }
}
