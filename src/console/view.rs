//! What templates show, prepared: times as text, statuses as badge classes.
//! Templates only render these; escaping is askama's default.

use crate::domain::{LineStatus, Role};

/// `2026-11-24 18:40:12 UTC`.
pub fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

/// The CSS class of a status badge.
pub fn status_class(status: LineStatus) -> &'static str {
    match status {
        LineStatus::Processing => "badge amber",
        LineStatus::Completed => "badge green",
        LineStatus::Canceled => "badge red",
        LineStatus::Failed => "badge dark",
    }
}

/// The page's frame: who is logged in, the CSRF token for its forms, and
/// which section the navigation highlights.
pub struct Chrome {
    pub operator: String,
    pub role: Role,
    pub csrf: String,
    pub section: &'static str,
}

impl Chrome {
    pub fn new(session: &super::ConsoleSession, section: &'static str) -> Self {
        Self {
            operator: session.operator.name.as_str().to_owned(),
            role: session.operator.role,
            csrf: session.csrf.expose().to_owned(),
            section,
        }
    }

    /// Whether the operator may reissue links (the console hides what the
    /// role cannot do; the use cases refuse it anyway).
    pub fn support(&self) -> bool {
        self.role.allows(Role::Support)
    }

    /// Whether the operator may cancel, edit the catalogue and manage vendors.
    pub fn admin(&self) -> bool {
        self.role.allows(Role::Admin)
    }
}

/// Renders a template into a 200 HTML response.
pub fn html<T: askama::Template>(page: &T) -> Result<actix_web::HttpResponse, super::ConsoleError> {
    let body = page
        .render()
        .map_err(|e| super::ConsoleError::internal(anyhow::anyhow!("rendering a page: {e}")))?;
    Ok(actix_web::HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body))
}

/// A 303 to `to` (post/redirect/get).
/// 303 to `to` (the console's home if `to` cannot be a header value).
pub fn see_other(to: &str) -> actix_web::HttpResponse {
    let to = actix_web::http::header::HeaderValue::from_str(to)
        .unwrap_or(actix_web::http::header::HeaderValue::from_static("/admin/"));
    actix_web::HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, to))
        .finish()
}
