//! What the console answers instead of a page: a readable HTML page with the
//! status (never a 500 that says more than that), or, without a session, the
//! way to the login page.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use crate::app::AppError;
use crate::http::error::{app_message, app_status, current_request_id};

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// No (live) session: log in, then come back to `next`.
    #[error("Please log in.")]
    LoginRequired { next: String },
    /// A form whose CSRF token is missing or wrong: nothing was changed.
    #[error(
        "This form has expired or did not come from this console; nothing was changed. Go back, reload the page and try again."
    )]
    Forbidden,
    #[error("{0}")]
    BadInput(String),
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    App(#[from] AppError),
}

impl ConsoleError {
    pub fn internal(e: anyhow::Error) -> Self {
        Self::App(AppError::Internal(e))
    }
}

/// The API's parsing errors (shared parsers) shown as a readable page.
impl From<crate::http::error::ApiError> for ConsoleError {
    fn from(e: crate::http::error::ApiError) -> Self {
        match e {
            crate::http::error::ApiError::App(app) => Self::App(app),
            other => Self::BadInput(other.message()),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    message: String,
    request_id: String,
}

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::LoginRequired { .. } => StatusCode::SEE_OTHER,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::BadInput(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::App(e) => app_status(e),
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::LoginRequired { next } = self {
            let to = format!(
                "/admin/login?next={}",
                form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
            );
            return HttpResponse::SeeOther()
                .insert_header(("Location", to))
                .finish();
        }
        let status = self.status_code();
        let message = match self {
            Self::App(e) => {
                if status.is_server_error() {
                    tracing::error!(error = ?e, "console request failed");
                }
                app_message(e)
            }
            other => other.to_string(),
        };
        let page = ErrorPage {
            status: status.as_u16(),
            title: status.canonical_reason().unwrap_or("Error"),
            message,
            request_id: current_request_id(),
        };
        let body = page
            .render()
            .unwrap_or_else(|_| "<!doctype html><title>Error</title>Error".to_owned());
        HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(body)
    }
}
