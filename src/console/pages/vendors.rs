//! Vendors: suspend, activate, their tokens, revoke.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use crate::console::session::{CsrfForm, Submitted};
use crate::console::view::{Chrome, html, see_other, when};
use crate::console::{ConsoleError, ConsoleSession};
use crate::domain::{TokenId, VendorId, VendorStatus};
use crate::http::path::segment;
use crate::http::state::AppState;

fn vendor_status_class(status: VendorStatus) -> &'static str {
    match status {
        VendorStatus::Active => "badge green",
        VendorStatus::Suspended => "badge red",
    }
}

pub struct VendorRow {
    pub id: String,
    pub name: String,
    pub status: &'static str,
    pub status_class: &'static str,
    pub tokens: i64,
    pub created: String,
    pub suspend: bool,
    pub toggle: &'static str,
    pub toggle_label: &'static str,
}

#[derive(Template)]
#[template(path = "vendors.html")]
struct VendorsPage {
    chrome: Chrome,
    vendors: Vec<VendorRow>,
}

pub async fn list(
    session: ConsoleSession,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let vendors = state
        .app
        .vendors()
        .await?
        .into_iter()
        .map(|v| {
            let suspend = v.vendor.status == VendorStatus::Active;
            VendorRow {
                id: v.vendor.vendor_id.to_string(),
                name: v.vendor.name,
                status: v.vendor.status.as_str(),
                status_class: vendor_status_class(v.vendor.status),
                tokens: v.active_tokens,
                created: when(v.vendor.created_at_ms),
                suspend,
                toggle: if suspend { "suspend" } else { "activate" },
                toggle_label: if suspend { "Suspend" } else { "Activate" },
            }
        })
        .collect();
    html(&VendorsPage {
        chrome: Chrome::new(&session, "vendors"),
        vendors,
    })
}

pub struct TokenRow {
    pub id: String,
    pub prefix: String,
    pub environment: &'static str,
    pub created: String,
    pub revoked: Option<String>,
}

#[derive(Template)]
#[template(path = "vendor.html")]
struct VendorPage {
    chrome: Chrome,
    id: String,
    name: String,
    status: &'static str,
    status_class: &'static str,
    notice: Option<&'static str>,
    tokens: Vec<TokenRow>,
    webhooks: Vec<super::webhooks::WebhookRow>,
}

pub async fn detail(
    session: ConsoleSession,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    let id = segment::<VendorId>(&req)?;
    let vendor = state.app.vendor(id).await?;
    let tokens = state
        .app
        .vendor_tokens(id)
        .await?
        .into_iter()
        .map(|t| TokenRow {
            id: t.token_id.to_string(),
            prefix: t.prefix,
            environment: t.environment.as_str(),
            created: when(t.created_at_ms),
            revoked: t.revoked_at_ms.map(when),
        })
        .collect();
    let webhooks = state
        .app
        .vendor_webhooks(id)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    let revoked = form_urlencoded::parse(req.query_string().as_bytes())
        .any(|(k, v)| k == "done" && v == "revoked");
    html(&VendorPage {
        chrome: Chrome::new(&session, "vendors"),
        id: id.to_string(),
        name: vendor.name,
        status: vendor.status.as_str(),
        status_class: vendor_status_class(vendor.status),
        notice: revoked.then_some("Token revoked: calls with it now get 401."),
        tokens,
        webhooks,
    })
}

async fn set_status(
    session: ConsoleSession,
    state: &AppState,
    req: &HttpRequest,
    status: VendorStatus,
) -> Result<HttpResponse, ConsoleError> {
    let id = segment::<VendorId>(req)?;
    state
        .app
        .set_vendor_status(&session.operator, id, status)
        .await?;
    Ok(see_other("/admin/vendors"))
}

pub async fn suspend(
    form: Submitted<CsrfForm>,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    set_status(form.session, &state, &req, VendorStatus::Suspended).await
}

pub async fn activate(
    form: Submitted<CsrfForm>,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    set_status(form.session, &state, &req, VendorStatus::Active).await
}

pub async fn revoke_token(
    Submitted { session, .. }: Submitted<CsrfForm>,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    let id = segment::<TokenId>(&req)?;
    let token = state
        .app
        .operator_revoke_token(&session.operator, id)
        .await?;
    Ok(see_other(&format!(
        "/admin/vendors/{}?done=revoked",
        token.vendor_id
    )))
}
