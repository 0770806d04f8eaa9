//! The OpenAPI 3.1 document of every API route (SPEC §4, §5, §7's admin API,
//! §9, §10), generated from the handlers' `#[utoipa::path]` attributes and the
//! wire types; served at `/openapi.json`, with a Swagger UI at `/docs/`
//! (vendored into the binary: no CDN). The console's HTML pages are not API
//! and are not described.

use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{IntoResponses as _, Modify, OpenApi, PartialSchema, ToSchema};

use super::routes;
use crate::domain;

/// `PartialSchema` + `ToSchema` for a domain value, described once here
/// (the domain module stays free of documentation concerns).
macro_rules! schema {
    ($ty:ty, $name:literal, $build:expr) => {
        impl PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                let b: ObjectBuilder = $build;
                RefOr::T(Schema::Object(b.build()))
            }
        }
        impl ToSchema for $ty {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed($name)
            }
        }
    };
}

fn integer(description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(1))
        .description(Some(description))
}

fn uuid(description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::Custom("uuid".to_owned())))
        .description(Some(description))
}

fn one_of(values: &[&str], description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.iter().copied()))
        .description(Some(description))
}

fn text(min: usize, max: usize, description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(min))
        .max_length(Some(max))
        .description(Some(description))
}

schema!(
    domain::OrderNumber,
    "OrderNumber",
    integer("The shop's order number (`order_id` on the wire).")
);
schema!(
    domain::OrderLineId,
    "OrderLineId",
    integer("The shop's line number within the order.")
);
schema!(domain::AssetId, "AssetId", integer("A catalogue asset."));
schema!(domain::Quantity, "Quantity", integer("Units bought."));
schema!(domain::VendorId, "VendorId", uuid("A vendor (shop)."));
schema!(
    domain::TokenId,
    "TokenId",
    uuid("A vendor API token (not its secret).")
);
schema!(domain::AdminId, "AdminId", uuid("An operator identity."));
schema!(domain::WebhookId, "WebhookId", uuid("A webhook endpoint."));
schema!(
    domain::Environment,
    "Environment",
    one_of(
        &["LIVE", "SANDBOX"],
        "The token's environment; orders live in one."
    )
);
schema!(
    domain::LineStatus,
    "LineStatus",
    one_of(
        &["PROCESSING", "COMPLETED", "CANCELED", "FAILED"],
        "An order line's state."
    )
);
schema!(
    domain::VendorStatus,
    "VendorStatus",
    one_of(&["ACTIVE", "SUSPENDED"], "A vendor's state.")
);
schema!(
    domain::Role,
    "Role",
    one_of(
        &["viewer", "support", "admin"],
        "What an operator may do: `viewer` reads; `support` also reissues links; `admin` also cancels and manages."
    )
);
schema!(
    domain::AssetStatus,
    "AssetStatus",
    one_of(
        &["ACTIVE", "RETIRED"],
        "Whether an asset is sold; a RETIRED one keeps serving what was sold."
    )
);
schema!(
    domain::FileState,
    "FileState",
    one_of(
        &["ok", "missing", "altered", "unchecked"],
        "What the last `storage verify` found of the asset's file."
    )
);
schema!(
    domain::EventType,
    "EventType",
    one_of(
        &[
            "order_line.completed",
            "order_line.failed",
            "order_line.canceled",
            "webhook.test"
        ],
        "A webhook event type."
    )
);
schema!(
    domain::WebhookStatus,
    "WebhookStatus",
    one_of(
        &["ENABLED", "DISABLED", "DELETED"],
        "A webhook endpoint's state."
    )
);
schema!(
    domain::DeliveryState,
    "DeliveryState",
    one_of(
        &["pending", "delivered", "failed"],
        "A webhook delivery's state."
    )
);
schema!(
    domain::CanceledBy,
    "CanceledBy",
    one_of(
        &["vendor", "operator"],
        "Who canceled a line: the shop through its API, or the gateway's operators."
    )
);
schema!(
    domain::CancelReasonCode,
    "CancelReasonCode",
    one_of(
        &["refund", "dispute", "manual", "legal"],
        "Why a line was canceled, as data."
    )
);
schema!(
    domain::CustomerName,
    "CustomerName",
    text(1, 200, "The buyer's name as printed on the asset.")
);
schema!(
    domain::CancelReason,
    "CancelReason",
    text(1, 500, "Why a line was canceled, in words.")
);
schema!(
    domain::AdminName,
    "AdminName",
    text(1, 100, "An operator's name.")
);
schema!(
    domain::CountryCode,
    "CountryCode",
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some("^[A-Z]{2}$"))
        .description(Some("ISO 3166-1 alpha-2, upper case."))
);
schema!(
    domain::Sha256Digest,
    "Sha256Digest",
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some("^[0-9a-f]{64}$"))
        .description(Some("SHA-256 of the file, lower-case hex."))
);
schema!(
    domain::Actor,
    "Actor",
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(
            "Who did it: `vendor:<token id>`, `operator:<name>` or `system`."
        ))
);
schema!(
    domain::Price,
    "Price",
    ObjectBuilder::new()
        .schema_type(Type::Number)
        .minimum(Some(0))
        .description(Some("An amount as the shop sent it (never computed with)."))
);
schema!(
    crate::links::Action,
    "LinkAction",
    one_of(
        &["download", "view"],
        "A download (attachment) or view (inline) link."
    )
);
schema!(
    domain::Metadata,
    "Metadata",
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some("The shop's own data, stored and returned as given."))
);

/// Who may call a route, decided once, by its path: the admin API and
/// `/metrics` take an admin token, `/health` and `/access` nothing, every
/// other route a vendor token. Each authenticated operation is given its
/// scheme and the refusals every route of its kind can answer
/// (`VendorAuthErrors`, `AdminAuthErrors`; `DatabaseUnavailable`: the token
/// is looked up) and, when it takes a parameter or a body, `invalid_request`
/// (`Invalid`), so no route can forget them; a route's own description of a
/// status wins.
fn caller_scheme(path: &str) -> Option<&'static str> {
    if path.starts_with("/admin/api/") || path == "/metrics" {
        Some("admin_token")
    } else if path == "/health" || path.starts_with("/access/") {
        None
    } else {
        Some("vendor_token")
    }
}

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (name, what) in [
            (
                "vendor_token",
                "A vendor API token: `agt_live_…` or `agt_sandbox_…`.",
            ),
            ("admin_token", "An operator token: `agt_admin_…`."),
        ] {
            let mut scheme = Http::new(HttpAuthScheme::Bearer);
            scheme.description = Some(what.to_owned());
            components.add_security_scheme(name, SecurityScheme::Http(scheme));
        }
        for (path, item) in &mut openapi.paths.paths {
            let Some(scheme) = caller_scheme(path) else {
                continue;
            };
            let refusals = if scheme == "admin_token" {
                super::responses::AdminAuthErrors::responses()
            } else {
                super::responses::VendorAuthErrors::responses()
            };
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.head,
                &mut item.patch,
            ];
            for op in operations.into_iter().flatten() {
                op.security = Some(vec![SecurityRequirement::new(scheme, Vec::<String>::new())]);
                let takes_input = op.request_body.is_some()
                    || op.parameters.as_ref().is_some_and(|p| !p.is_empty());
                let invalid = takes_input.then(super::responses::Invalid::responses);
                let database = super::responses::DatabaseUnavailable::responses();
                let all = refusals
                    .iter()
                    .chain(&database)
                    .chain(invalid.iter().flatten());
                for (status, response) in all {
                    op.responses
                        .responses
                        .entry(status.clone())
                        .or_insert_with(|| response.clone());
                }
            }
        }
        // The typed answers' bodies, which the responses refer to by name.
        for (name, schema) in super::responses::schemas() {
            components.schemas.entry(name).or_insert(schema);
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "assetgate",
        description = "Access-control gateway for digital assets: the HL Connect–compatible vendor API, \
                       its extensions, webhooks, the admin API and operations. Errors are always an \
                       `ErrorResponse` whose `name` is stable; each response below names the ones it can carry."
    ),
    paths(
        routes::health::health,
        routes::metrics::metrics,
        routes::assets::list,
        routes::validate::validate,
        routes::register::register,
        routes::info::info,
        routes::links::download_url,
        routes::links::view_url,
        routes::cancel::cancel,
        routes::cancel_batch::cancel_batch,
        routes::list::list,
        routes::access_log::access_log,
        routes::access::access_get,
        routes::access::access_head,
        routes::webhooks::create,
        routes::webhooks::list,
        routes::webhooks::delete,
        routes::webhooks::deliveries,
        routes::webhooks::test,
        routes::webhooks::retry,
        routes::admin::orders::search,
        routes::admin::orders::detail,
        routes::admin::orders::cancel,
        routes::admin::orders::link,
        routes::admin::vendors::list,
        routes::admin::vendors::suspend,
        routes::admin::vendors::activate,
        routes::admin::vendors::tokens,
        routes::admin::vendors::revoke_token,
        routes::admin::vendors::webhooks,
        routes::admin::vendors::deliveries,
        routes::admin::vendors::redeliver,
        routes::admin::assets::upload,
        routes::admin::assets::list,
        routes::admin::assets::detail,
        routes::admin::assets::change,
        routes::admin::overview::overview,
        routes::admin::overview::me,
        routes::admin::audit::audit,
    ),
    components(schemas(
        domain::OrderNumber, domain::OrderLineId, domain::AssetId, domain::Quantity,
        domain::VendorId, domain::TokenId, domain::AdminId, domain::WebhookId,
        domain::Environment, domain::LineStatus, domain::VendorStatus, domain::EventType,
        domain::AssetStatus, domain::FileState, domain::Role,
        domain::WebhookStatus, domain::DeliveryState, domain::CancelReasonCode, domain::CanceledBy,
        domain::CustomerName, domain::CancelReason, domain::AdminName, domain::CountryCode,
        domain::Sha256Digest, domain::Actor, domain::Price, domain::Metadata,
        crate::links::Action,
    )),
    modifiers(&Security),
    tags(
        (name = "purchase", description = "The vendor API (HL Connect compatible) and its extensions."),
        (name = "access", description = "Buyers' links."),
        (name = "webhooks", description = "Standard Webhooks endpoints of a vendor."),
        (name = "admin", description = "The admin API (operators)."),
        (name = "operations", description = "Health and metrics."),
    )
)]
pub struct ApiDoc;

/// The document, as served.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// `GET /openapi.json` (built once).
pub async fn json() -> actix_web::HttpResponse {
    static DOCUMENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let body = DOCUMENT.get_or_init(|| document().to_json().unwrap_or_default());
    actix_web::HttpResponse::Ok()
        .content_type("application/json")
        .body(body.as_str())
}

/// The Swagger UI at `/docs/`, with its own headers (`docs_headers`); it
/// reads `/openapi.json`.
pub fn docs(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(
        actix_web::web::scope("/docs")
            .wrap(super::middleware::docs_headers())
            .service(
                utoipa_swagger_ui::SwaggerUi::new("/{_:.*}")
                    .config(utoipa_swagger_ui::Config::new(["/openapi.json"])),
            ),
    );
}
