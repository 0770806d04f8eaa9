//! The console's session: a cookie (`HttpOnly`, `SameSite=Strict`, `Secure`
//! behind https, expiring) naming a server-side session, and the CSRF token
//! every state-changing form must carry.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use secrecy::{ExposeSecret as _, SecretString};

use super::error::ConsoleError;
use crate::app::operators::Operator;
use crate::domain::secrets::{Hidden, hashes_equal};
use crate::http::state::AppState;

pub const COOKIE: &str = "agsession";

/// A logged-in operator (the extractor): a handler that takes it cannot be
/// reached without a live session; without one the browser goes to the login page.
#[derive(Clone, Debug)]
pub struct ConsoleSession {
    pub operator: Operator,
    pub csrf: Hidden,
}

impl ConsoleSession {
    /// Refuses (403, nothing changed) a form whose CSRF token is not this session's.
    pub fn check_csrf(&self, presented: &str) -> Result<(), ConsoleError> {
        if hashes_equal(presented, self.csrf.expose()) {
            Ok(())
        } else {
            Err(ConsoleError::Forbidden)
        }
    }
}

fn state(req: &HttpRequest) -> Result<web::Data<AppState>, ConsoleError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ConsoleError::internal(anyhow::anyhow!("application state missing")))
}

impl ConsoleSession {
    async fn resume(req: HttpRequest) -> Result<Self, ConsoleError> {
        let state = state(&req)?;
        let login = || ConsoleError::LoginRequired {
            next: req
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .filter(|p| {
                    req.method() == actix_web::http::Method::GET && p.starts_with("/admin/")
                })
                .unwrap_or_else(|| "/admin/".to_owned()),
        };
        let cookie = req.cookie(COOKIE).ok_or_else(login)?;
        let session = state.app.session(cookie.value()).await?.ok_or_else(login)?;
        tracing::Span::current().record("admin", tracing::field::display(&session.operator.name));
        Ok(Self {
            operator: session.operator,
            csrf: session.csrf,
        })
    }
}

impl FromRequest for ConsoleSession {
    type Error = ConsoleError;
    type Future = LocalBoxFuture<'static, Result<Self, ConsoleError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(Self::resume(req.clone()))
    }
}

/// A form that carries the session's CSRF token.
pub trait CarriesCsrf {
    fn csrf(&self) -> &str;
}

/// The form of a page that only carries the CSRF token (log out, suspend, …).
#[derive(serde::Deserialize)]
pub struct CsrfForm {
    pub csrf: String,
}

impl CarriesCsrf for CsrfForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// A state-changing form from a logged-in operator whose CSRF token is the
/// session's (403 otherwise, nothing changed): a handler that takes it
/// cannot forget the check.
pub struct Submitted<T> {
    pub session: ConsoleSession,
    pub form: T,
}

impl<T: CarriesCsrf + serde::de::DeserializeOwned + 'static> FromRequest for Submitted<T> {
    type Error = ConsoleError;
    type Future = LocalBoxFuture<'static, Result<Self, ConsoleError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        // The session first: without one the browser goes to the login page.
        let session = ConsoleSession::from_request(req, payload);
        let form = super::ConsoleForm::<T>::from_request(req, payload);
        Box::pin(async move {
            let session = session.await?;
            let super::ConsoleForm(form) = form.await?;
            session.check_csrf(form.csrf())?;
            Ok(Self { session, form })
        })
    }
}

/// The session cookie for `secret`, valid for `ttl_seconds`.
pub fn cookie(secret: &SecretString, ttl_seconds: i64, secure: bool) -> Cookie<'static> {
    Cookie::build(COOKIE, secret.expose_secret().to_owned())
        .path("/admin")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(CookieDuration::seconds(ttl_seconds))
        .finish()
}

/// A cookie that tells the browser to forget the session.
pub fn removal(secure: bool) -> Cookie<'static> {
    let mut c = cookie(&SecretString::from(""), 0, secure);
    c.make_removal();
    c
}
