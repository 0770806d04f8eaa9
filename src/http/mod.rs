//! HTTP: the routing table, extractors, middleware, error mapping and wire
//! types. One file per endpoint under `routes/`; a route parses the request
//! into domain values, calls one use case of `app`, and renders the answer.

pub mod counted;
pub mod error;
pub mod extract;

pub mod limits;
pub mod middleware;
pub mod openapi;
pub mod params;
pub mod path;
pub mod range;
pub mod responses;
pub mod routes;
pub mod state;
pub mod upload;
pub mod wire;

use actix_web::middleware::from_fn;
use actix_web::{HttpRequest, HttpResponse, web};

use error::ApiError;

/// A resource whose wrong methods answer 405 `ErrorResponse` with `Allow`.
fn resource(path: &str, allowed: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move |req: HttpRequest| async move {
        Err::<HttpResponse, _>(ApiError::MethodNotAllowed {
            method: req.method().to_string(),
            allowed,
        })
    }))
}

/// Panics become JSON 500s. Applied per resource, i.e. after routing: actix's
/// router needs the request unshared, so this cannot wrap the whole App.
/// A resource with the panic guard, the API's headers and, when `metrics`,
/// the request series.
fn guarded(r: actix_web::Resource, metrics: bool) -> impl actix_web::dev::HttpServiceFactory {
    r.wrap(from_fn(middleware::catch_panic))
        .wrap(middleware::api_headers())
        .wrap(actix_web::middleware::Condition::new(
            metrics,
            from_fn(middleware::record_metrics),
        ))
}

/// Every route of the gateway.
/// `/access` records its own series (pre-registered, see `crate::metrics`).
pub fn configure(cfg: &mut web::ServiceConfig, panic_route: bool, metrics: bool) {
    use routes::*;
    // First and by static prefix: the download path never runs the router's regex.
    cfg.service(web::scope("/access").default_service(web::to(access::access)));
    let routes = [
        resource("/health", "GET").route(web::get().to(health::health)),
        resource("/metrics", "GET").route(web::get().to(metrics::metrics)),
        resource("/docs", "GET").route(web::get().to(docs_slash)),
        resource("/openapi.json", "GET").route(web::get().to(openapi::json)),
        resource("/assets/list", "GET").route(web::get().to(assets::list)),
        resource("/purchase/validate-purchase-before-payment", "POST")
            .route(web::post().to(validate::validate)),
        resource("/purchase/register", "POST").route(web::post().to(register::register)),
        resource("/purchase/info", "GET").route(web::get().to(info::info)),
        resource("/purchase/download-url", "GET").route(web::get().to(links::download_url)),
        resource("/purchase/view-url", "GET").route(web::get().to(links::view_url)),
        resource("/purchase/cancel", "DELETE").route(web::delete().to(cancel::cancel)),
        resource("/purchase/cancel-batch", "POST")
            .route(web::post().to(cancel_batch::cancel_batch)),
        resource("/purchase/list", "GET").route(web::get().to(list::list)),
        resource("/purchase/access-log", "GET").route(web::get().to(access_log::access_log)),
        resource("/webhooks", "GET, POST")
            .route(web::get().to(webhooks::list))
            .route(web::post().to(webhooks::create)),
        resource("/webhooks/{webhook_id}", "DELETE").route(web::delete().to(webhooks::delete)),
        resource("/webhooks/{webhook_id}/deliveries", "GET")
            .route(web::get().to(webhooks::deliveries)),
        resource("/webhooks/{webhook_id}/test", "POST").route(web::post().to(webhooks::test)),
        resource("/webhooks/{webhook_id}/deliveries/{event_id}/retry", "POST")
            .route(web::post().to(webhooks::retry)),
        resource("/admin/api/orders", "GET").route(web::get().to(admin::orders::search)),
        resource(
            "/admin/api/orders/{vendor_id}/{environment}/{order_id}",
            "GET",
        )
        .route(web::get().to(admin::orders::detail)),
        resource(
            "/admin/api/orders/{vendor_id}/{environment}/{order_id}/cancel",
            "POST",
        )
        .route(web::post().to(admin::orders::cancel)),
        resource(
            "/admin/api/orders/{vendor_id}/{environment}/{order_id}/lines/{order_line_id}/links",
            "POST",
        )
        .route(web::post().to(admin::orders::link)),
        resource("/admin/api/vendors", "GET").route(web::get().to(admin::vendors::list)),
        resource("/admin/api/vendors/{vendor_id}/suspend", "POST")
            .route(web::post().to(admin::vendors::suspend)),
        resource("/admin/api/vendors/{vendor_id}/activate", "POST")
            .route(web::post().to(admin::vendors::activate)),
        resource("/admin/api/vendors/{vendor_id}/tokens", "GET")
            .route(web::get().to(admin::vendors::tokens)),
        resource("/admin/api/tokens/{token_id}/revoke", "POST")
            .route(web::post().to(admin::vendors::revoke_token)),
        resource("/admin/api/vendors/{vendor_id}/webhooks", "GET")
            .route(web::get().to(admin::vendors::webhooks)),
        resource("/admin/api/webhooks/{webhook_id}/deliveries", "GET")
            .route(web::get().to(admin::vendors::deliveries)),
        resource("/admin/api/deliveries/{delivery_id}/redeliver", "POST")
            .route(web::post().to(admin::vendors::redeliver)),
        resource("/admin/api/assets", "GET, POST")
            .route(web::get().to(admin::assets::list))
            .route(web::post().to(admin::assets::upload)),
        resource("/admin/api/assets/{asset_id}", "GET, PATCH")
            .route(web::get().to(admin::assets::detail))
            .route(web::patch().to(admin::assets::change)),
        resource("/admin/api/overview", "GET").route(web::get().to(admin::overview::overview)),
        resource("/admin/api/me", "GET").route(web::get().to(admin::overview::me)),
        resource("/admin/api/audit", "GET").route(web::get().to(admin::audit::audit)),
    ];
    for r in routes {
        cfg.service(guarded(r, metrics));
    }
    if panic_route {
        cfg.service(guarded(
            resource("/__test/panic", "GET").route(web::get().to(panic)),
            metrics,
        ));
    }
}

/// `/docs` → `/docs/` (the Swagger UI's assets are relative to it).
async fn docs_slash() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header(("Location", "/docs/"))
        .finish()
}

/// Unknown routes: JSON 404.
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::RouteNotFound {
        method: req.method().to_string(),
        path: req.path().chars().take(200).collect(),
    })
}

#[expect(
    clippy::panic,
    reason = "test-only route proving that panics become JSON 500s"
)]
async fn panic() -> HttpResponse {
    panic!("deliberate panic from /__test/panic")
}
