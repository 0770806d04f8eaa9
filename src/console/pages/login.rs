//! Logging in with an admin token, and out.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::console::session::{COOKIE, CsrfForm, Submitted, cookie, removal};
use crate::console::view::{html, see_other};
use crate::console::{ConsoleError, ConsoleForm, ConsoleQuery};
use crate::http::error::ApiError;
use crate::http::limits::LoginSurface;
use crate::http::state::AppState;
use actix_web::http::StatusCode;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    next: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

/// Only a console page may be where a login returns to (and never a value
/// that cannot be a `Location` header: no control characters).
fn safe_next(next: Option<&str>) -> String {
    next.filter(|n| {
        n.starts_with("/admin/")
            && !n.starts_with("//")
            && !n.contains('\\')
            && !n.chars().any(char::is_control)
            && n.chars().count() <= 500
    })
    .unwrap_or("/admin/")
    .to_owned()
}

pub async fn form(ConsoleQuery(q): ConsoleQuery<LoginQuery>) -> Result<HttpResponse, ConsoleError> {
    html(&LoginPage {
        next: safe_next(q.next.as_deref()),
        error: None,
    })
}

#[derive(Deserialize)]
pub struct LoginForm {
    token: String,
    next: Option<String>,
}

pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    ConsoleForm(f): ConsoleForm<LoginForm>,
) -> Result<HttpResponse, ConsoleError> {
    let next = safe_next(f.next.as_deref());
    let refused = |next: String, error: String, status| {
        let mut res = html(&LoginPage {
            next,
            error: Some(error),
        })?;
        *res.status_mut() = status;
        Ok(res)
    };
    if let Err(ApiError::RateLimited {
        retry_after_seconds,
        ..
    }) = state.limits.login_allowed(&req)
    {
        return refused(
            next,
            format!(
                "Too many failed logins from your address; try again in {retry_after_seconds} seconds."
            ),
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    let ttl_seconds = i64::from(state.settings.console.session_hours) * 3600;
    let Some((_, secret, _)) = state
        .app
        .open_session(f.token.trim(), ttl_seconds * 1000)
        .await?
    else {
        state.limits.login_failed(&req, LoginSurface::Console);
        return refused(
            next,
            "That is not an active admin token.".to_owned(),
            StatusCode::UNAUTHORIZED,
        );
    };
    let secure = state.public_url.0.starts_with("https://");
    let mut res = see_other(&next);
    res.add_cookie(&cookie(&secret, ttl_seconds, secure))
        .map_err(|e| ConsoleError::internal(e.into()))?;
    Ok(res)
}

pub async fn logout(
    _: Submitted<CsrfForm>,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    if let Some(c) = req.cookie(COOKIE) {
        state.app.end_session(c.value()).await?;
    }
    let mut res = see_other("/admin/login");
    res.add_cookie(&removal(state.public_url.0.starts_with("https://")))
        .map_err(|e| ConsoleError::internal(e.into()))?;
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn a_login_only_returns_to_console_pages() {
        assert_eq!(safe_next(Some("/admin/orders?q=1")), "/admin/orders?q=1");
        for bad in [
            "https://evil.example/",
            "//evil.example/admin/",
            "/access/x",
            "/admin\\..\\",
            "/admin/\r\nSet-Cookie: a=b",
            "/admin/\n",
            "/admin/\u{7f}",
        ] {
            assert_eq!(safe_next(Some(bad)), "/admin/", "{bad}");
        }
        assert_eq!(safe_next(None), "/admin/");
    }
}
