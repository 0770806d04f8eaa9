//! The operators' web console at `/admin/`: server-rendered HTML (askama
//! templates compiled into the binary, static files served from it), usable
//! without JavaScript; htmx adds live search and a self-refreshing timeline.
//! Handlers call the same use cases as the admin API and build plain view
//! structs; templates only render them, escaping every value.

mod error;
mod headers;
mod pages;
mod session;
mod view;

use actix_web::dev::Payload;
use actix_web::middleware::from_fn;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

pub use error::ConsoleError;
pub use headers::CSP;
pub use session::ConsoleSession;

use crate::http::extract::read_body;

/// Every console route, under one scope with the security headers.
pub fn configure(cfg: &mut web::ServiceConfig, metrics: bool) {
    use pages::*;
    let routes = [
        ("/", web::get().to(overview::overview)),
        ("", web::get().to(overview::to_slash)),
        ("/login", web::get().to(login::form)),
        ("/login", web::post().to(login::login)),
        ("/logout", web::post().to(login::logout)),
        ("/orders", web::get().to(orders::list)),
        (
            "/orders/{vendor_id}/{environment}/{order_id}",
            web::get().to(orders::detail),
        ),
        (
            "/orders/{vendor_id}/{environment}/{order_id}/cancel",
            web::get().to(orders::confirm_cancel),
        ),
        (
            "/orders/{vendor_id}/{environment}/{order_id}/cancel",
            web::post().to(orders::cancel),
        ),
        (
            "/orders/{vendor_id}/{environment}/{order_id}/lines/{order_line_id}/links",
            web::post().to(orders::reissue),
        ),
        (
            "/orders/{vendor_id}/{environment}/{order_id}/evidence",
            web::get().to(orders::evidence),
        ),
        ("/vendors", web::get().to(vendors::list)),
        ("/vendors/{vendor_id}", web::get().to(vendors::detail)),
        (
            "/vendors/{vendor_id}/suspend",
            web::post().to(vendors::suspend),
        ),
        (
            "/vendors/{vendor_id}/activate",
            web::post().to(vendors::activate),
        ),
        (
            "/tokens/{token_id}/revoke",
            web::post().to(vendors::revoke_token),
        ),
        ("/webhooks/{webhook_id}", web::get().to(webhooks::detail)),
        (
            "/deliveries/{delivery_id}/redeliver",
            web::post().to(webhooks::redeliver),
        ),
        ("/assets", web::get().to(assets::list)),
        ("/assets", web::post().to(assets::upload)),
        ("/assets/{asset_id}", web::get().to(assets::detail)),
        ("/assets/{asset_id}", web::post().to(assets::edit)),
        (
            "/assets/{asset_id}/status",
            web::post().to(assets::set_status),
        ),
        ("/audit", web::get().to(audit::list)),
        ("/static/{file}", web::get().to(static_files::serve)),
    ];
    let mut scope = web::scope("/admin")
        .wrap(from_fn(headers::security_headers))
        .wrap(actix_web::middleware::Condition::new(
            metrics,
            from_fn(crate::http::middleware::record_metrics),
        ));
    for (path, route) in routes {
        scope = scope.route(path, route);
    }
    cfg.service(scope.default_service(web::to(not_found)));
}

/// Unknown console pages: a readable 404 (the admin API keeps its JSON).
async fn not_found(req: HttpRequest) -> Result<HttpResponse, actix_web::Error> {
    if req.path().starts_with("/admin/api/") {
        return crate::http::not_found(req).await.map_err(Into::into);
    }
    Err(ConsoleError::NotFound(format!(
        "There is no page at {}.",
        req.path().chars().take(200).collect::<String>()
    ))
    .into())
}

/// A query string parsed into `T`; a bad one is a 422 page naming the field.
pub struct ConsoleQuery<T>(pub T);

impl<T: DeserializeOwned> FromRequest for ConsoleQuery<T> {
    type Error = ConsoleError;
    type Future = std::future::Ready<Result<Self, ConsoleError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(
            crate::http::extract::form_parse(req.query_string())
                .map(Self)
                .map_err(ConsoleError::from),
        )
    }
}

/// An urlencoded form body, bounded like every body; a bad one is a 422 page.
pub struct ConsoleForm<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ConsoleForm<T> {
    type Error = ConsoleError;
    type Future = LocalBoxFuture<'static, Result<Self, ConsoleError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let body = read_body(&req, &mut payload)
                .await
                .map_err(|e| ConsoleError::BadInput(e.message()))?;
            serde_urlencoded::from_bytes(&body)
                .map(Self)
                .map_err(|e| ConsoleError::BadInput(format!("The form could not be read: {e}.")))
        })
    }
}
