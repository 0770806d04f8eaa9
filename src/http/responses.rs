//! What the API answers, as types. A handler returns [`Json<T, STATUS>`]
//! (or `Created`, `Accepted`, `NoContent`), and the OpenAPI document reads
//! the status and the body's schema from that same type (`responses(...)` of
//! `#[utoipa::path]` names it): a handler cannot answer 200 while its
//! documentation says 201. The bodies themselves are the structs below and
//! the items of `wire`; none is built by hand with `json!`.

use std::collections::BTreeMap;

use actix_web::body::BoxBody;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, Responder, ResponseError as _};
use serde::Serialize;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Schema};
use utoipa::{IntoResponses, PartialSchema, ToSchema};

use super::error::{ApiError, ErrorResponse};
use super::params::{DeliveriesQuery, encode_cursor, page_of};
use super::state::AppState;
use super::wire::{
    AdminAssetItem, AssetItem, AuditItem, DeliveryItem, OrderItem, OrderSummaryItem, TokenItem,
    VendorSummaryItem, WebhookItem,
};
use crate::app::AppError;
use crate::app::idempotency::{Attempt, Once, Ran, Reply, Work};
use crate::domain::{self, DeliveryState};
use crate::domain::{IdempotencyKey, Tenant, WebhookId};

/// A JSON answer whose HTTP status is part of its type.
pub struct Json<T, const STATUS: u16 = 200>(pub T);
/// 201 with a JSON body.
pub type Created<T> = Json<T, 201>;
/// 202 with a JSON body.
pub type Accepted<T> = Json<T, 202>;

impl<T, const STATUS: u16> Json<T, STATUS> {
    /// `Created::new(body)`: the alias names the status.
    pub fn new(body: T) -> Self {
        Self(body)
    }
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::OK)
}

impl<T: Serialize, const STATUS: u16> Responder for Json<T, STATUS> {
    type Body = BoxBody;

    fn respond_to(self, _: &HttpRequest) -> HttpResponse {
        match serde_json::to_vec(&self.0) {
            Ok(body) => HttpResponse::build(status(STATUS))
                .content_type("application/json")
                .body(body),
            Err(e) => ApiError::internal(e).error_response(),
        }
    }
}

/// The description a body type's doc comment gives its schema.
fn described<T: PartialSchema>() -> Option<String> {
    match T::schema() {
        RefOr::T(Schema::Object(o)) => o.description,
        RefOr::T(Schema::Array(a)) => a.description,
        _ => None,
    }
}

impl<T: ToSchema, const STATUS: u16> IntoResponses for Json<T, STATUS> {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let description = described::<T>().unwrap_or_else(|| {
            status(STATUS)
                .canonical_reason()
                .unwrap_or("Success")
                .to_owned()
        });
        let content = ContentBuilder::new()
            .schema(Some(Ref::from_schema_name(T::name())))
            .build();
        let response = ResponseBuilder::new()
            .description(description)
            .content("application/json", content)
            .build();
        BTreeMap::from([(STATUS.to_string(), RefOr::T(response))])
    }
}

/// 204, no body.
pub struct NoContent;

impl Responder for NoContent {
    type Body = BoxBody;

    fn respond_to(self, _: &HttpRequest) -> HttpResponse {
        HttpResponse::NoContent().finish()
    }
}

impl IntoResponses for NoContent {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let response = ResponseBuilder::new().description("Done; no body").build();
        BTreeMap::from([("204".to_owned(), RefOr::T(response))])
    }
}

// ---- Bodies -------------------------------------------------------------

/// The order's items (links for COMPLETED lines).
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
pub struct OrderItems(pub Vec<OrderItem>);

impl From<Vec<crate::app::LineView>> for OrderItems {
    fn from(views: Vec<crate::app::LineView>) -> Self {
        Self(views.into_iter().map(OrderItem::from).collect())
    }
}

/// Registered; fulfilment runs in the background.
#[derive(Debug, Serialize, ToSchema)]
pub struct Registered {
    pub order_id: domain::OrderNumber,
    pub order_line_ids: Vec<domain::OrderLineId>,
    /// Always `PROCESSING`: fulfilment runs in the background.
    #[schema(value_type = String, example = "PROCESSING")]
    pub status: &'static str,
}

/// A one-time token for register.
#[derive(Serialize, ToSchema)]
pub struct Validated {
    /// One-time token for `/purchase/register`.
    pub token: String,
    /// Unix seconds after which the token is refused.
    pub exp_date: i64,
}

impl std::fmt::Debug for Validated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validated")
            .field("token", &"[REDACTED]")
            .field("exp_date", &self.exp_date)
            .finish()
    }
}

/// `/purchase/info` while the order is not fulfilled yet (202) or when every
/// line failed (502).
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderPending {
    /// `PROCESSING` (202) or `FAILED` (502).
    pub status: String,
    /// Why fulfilment failed (502 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// One check of `/health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthCheck {
    /// `database`, `revocation_store`, `storage` or `fulfilment`.
    pub name: String,
    pub health: bool,
}

impl From<crate::app::Check> for HealthCheck {
    fn from(c: crate::app::Check) -> Self {
        Self {
            name: c.name.to_owned(),
            health: c.health,
        }
    }
}

/// Registered; the secret is shown only here.
#[derive(Serialize, ToSchema)]
pub struct WebhookCreated {
    #[serde(flatten)]
    pub webhook: WebhookItem,
    /// `whsec_…`: verifies the `webhook-signature` header.
    pub secret: String,
}

impl std::fmt::Debug for WebhookCreated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookCreated")
            .field("webhook", &self.webhook)
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

/// Webhook endpoints, without their secrets.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookList {
    pub webhooks: Vec<WebhookItem>,
}

/// Deliveries, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryPage {
    pub deliveries: Vec<DeliveryItem>,
    pub next_cursor: Option<String>,
}

impl DeliveryPage {
    /// A page of an endpoint's deliveries (of `tenant`'s endpoints only, if given).
    pub async fn load(
        state: &AppState,
        id: WebhookId,
        tenant: Option<Tenant>,
        q: &DeliveriesQuery,
    ) -> Result<Self, ApiError> {
        let (before, limit) = q.page()?;
        let rows = state
            .app
            .webhook_deliveries(id, tenant, before, limit + 1)
            .await?;
        let (rows, next_cursor) = page_of(rows, limit, |r| encode_cursor(&[r.delivery.id]));
        Ok(Self {
            deliveries: rows.into_iter().map(DeliveryItem::from).collect(),
            next_cursor,
        })
    }
}

/// A `webhook.test` event is queued.
#[derive(Debug, Serialize, ToSchema)]
pub struct Queued {
    #[schema(value_type = String, example = "queued")]
    pub status: &'static str,
}

impl Queued {
    pub const NOW: Self = Self { status: "queued" };
}

/// Every vendor.
#[derive(Debug, Serialize, ToSchema)]
pub struct VendorList {
    pub vendors: Vec<VendorSummaryItem>,
}

/// A vendor's tokens, never their secrets.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenList {
    pub tokens: Vec<TokenItem>,
}

/// Queued again, due now (a DISABLED endpoint is enabled again).
#[derive(Debug, Serialize, ToSchema)]
pub struct Redelivered {
    pub delivery_id: i64,
    pub event_id: String,
    pub state: DeliveryState,
}

/// Orders, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderPage {
    pub orders: Vec<OrderSummaryItem>,
    pub next_cursor: Option<String>,
}

/// The caller's lines, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinePage {
    pub items: Vec<OrderItem>,
    pub next_cursor: Option<String>,
}

/// A page of the catalogue.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssetPage {
    pub assets: Vec<AssetItem>,
    pub last_id: i64,
    pub next_page: Option<String>,
}

/// A page of the catalogue for operators (`next_cursor` while more follow).
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminAssetPage {
    pub assets: Vec<AdminAssetItem>,
    pub next_cursor: Option<String>,
}

/// Every operator change, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditItem>,
    pub next_cursor: Option<String>,
}

/// One result per entry of a batch cancel, in input order.
pub use crate::app::{BatchAnswer, BatchEntry, BatchResult};

// ---- Requests that may be retried (`Idempotency-Key`) ------------------

/// Whether an answer leaves work to finish on a retry with the same key.
pub trait Resumable {
    fn resumable(&self) -> bool {
        false
    }
}

impl Resumable for OrderItems {}
impl Resumable for Registered {}
impl Resumable for BatchAnswer {
    fn resumable(&self) -> bool {
        self.results
            .iter()
            .any(|r| r.result == BatchResult::RevocationUnavailable)
    }
}

/// Runs a request through the application's one runner of retried requests
/// ([`App::once`](crate::app::App::once)): this only renders. `body` is what
/// of the body makes two requests the same (with method, path and query).
pub async fn idempotent<T, const STATUS: u16, Fut>(
    state: &AppState,
    req: &HttpRequest,
    (tenant, key): (Tenant, Option<IdempotencyKey>),
    body: &[u8],
    work: Work,
    run: impl FnOnce(Attempt) -> Fut,
) -> Result<HttpResponse, ApiError>
where
    T: Serialize + Resumable,
    Fut: Future<Output = Result<Json<T, STATUS>, ApiError>>,
{
    let mut material =
        format!("{}\n{}\n{}\n", req.method(), req.path(), req.query_string()).into_bytes();
    material.extend_from_slice(body);
    let once = Once {
        tenant,
        key: key.as_ref(),
        material: &material,
        work,
    };
    let mut failed: Option<ApiError> = None;
    let slot = &mut failed;
    let ran = state
        .app
        .once(once, |attempt| async move {
            match run(attempt).await {
                Ok(Json(answer)) => Reply {
                    status: STATUS,
                    resumable: answer.resumable(),
                    body: serde_json::to_string(&answer).unwrap_or_default(),
                },
                Err(e) => {
                    let reply = Reply {
                        status: e.status_code().as_u16(),
                        body: serde_json::to_string(&e.body()).unwrap_or_default(),
                        resumable: matches!(e, ApiError::App(AppError::RevocationUnavailable)),
                    };
                    *slot = Some(e);
                    reply
                }
            }
        })
        .await?;
    if let Some(e) = failed {
        return Err(e);
    }
    let (status, body, replayed) = match ran {
        Ran::Fresh(reply) => (reply.status, reply.body, false),
        Ran::Replayed { status, body } => (status, body, true),
    };
    let mut res = HttpResponse::build(self::status(status));
    if replayed {
        res.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(res.content_type("application/json").body(body))
}

// ---- Errors every route of a kind can answer (documentation only) ------

/// What any route behind a vendor token can answer besides its own errors.
#[derive(IntoResponses)]
pub enum VendorAuthErrors {
    #[response(
        status = 401,
        description = "`unauthorized`: no token, a malformed one or an unknown one"
    )]
    Unauthorized(ErrorResponse),
    #[response(status = 403, description = "`vendor_suspended`")]
    Suspended(ErrorResponse),
    #[response(
        status = 429,
        description = "`rate_limited`: over the token's rate limit, or too many failed logins from this address",
        headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))
    )]
    RateLimited(ErrorResponse),
}

/// What any route behind an admin token can answer besides its own errors.
#[derive(IntoResponses)]
pub enum AdminAuthErrors {
    #[response(
        status = 401,
        description = "`unauthorized`: no admin token, a malformed one, a vendor token or an unknown one"
    )]
    Unauthorized(ErrorResponse),
    #[response(
        status = 429,
        description = "`rate_limited`: too many failed logins from this address",
        headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))
    )]
    RateLimited(ErrorResponse),
}

/// What a route that reads a body can answer about the body itself.
#[derive(IntoResponses)]
pub enum BodyErrors {
    #[response(
        status = 408,
        description = "`request_timeout`: the body did not arrive in time"
    )]
    Timeout(ErrorResponse),
    #[response(
        status = 413,
        description = "`payload_too_large`: the body exceeds `server.max_body_bytes`"
    )]
    TooLarge(ErrorResponse),
}

/// A field that does not parse (and nothing more specific at 422): every
/// operation with a parameter or a body is given it by the document's modifier.
#[derive(IntoResponses)]
pub enum Invalid {
    #[response(
        status = 422,
        description = "`invalid_request`: `details.field` names the field"
    )]
    Request(ErrorResponse),
}

// ---- One refusal of a route (documentation only) ------------------------

/// An `ErrorResponse` answered with `status`, documented as `description`
/// (a 503 also carries `Retry-After`).
fn refused(status: u16, description: &str) -> BTreeMap<String, RefOr<Response>> {
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name(ErrorResponse::name())))
        .build();
    let mut response = ResponseBuilder::new()
        .description(description)
        .content("application/json", content);
    if status == 503 {
        let seconds = utoipa::openapi::HeaderBuilder::new()
            .schema(Some(u64::schema()))
            .description(Some("Seconds to wait before retrying"))
            .build();
        response = response.header("Retry-After", seconds);
    }
    let response = response.build();
    BTreeMap::from([(status.to_string(), RefOr::T(response))])
}

/// `refusal!(OrderNotFound = 404, "`order_not_found`")`: a type a route's
/// `responses(...)` names, so each refusal is written once.
macro_rules! refusal {
    ($($name:ident = $status:literal, $description:literal;)*) => {$(
        #[doc = concat!("Documents ", stringify!($status), ": ", $description, ".")]
        pub struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                refused($status, $description)
            }
        }
    )*};
}

refusal! {
    OrderNotFound = 404, "`order_not_found`";
    AssetNotFound = 404, "`asset_not_found`";
    WebhookNotFound = 404, "`webhook_not_found`";
    VendorNotFound = 404, "`vendor_not_found`";
    TokenNotFound = 404, "`token_not_found`";
    DeliveryNotFound = 404, "`delivery_not_found`";
    RoleForbidden = 403, "`role_forbidden`: the operator's role is below what this change needs (SPEC §7)";
    InProgress = 409, "`idempotency_request_in_progress`";
    DatabaseUnavailable = 503, "`database_unavailable`";
    RevocationUnavailable = 503, "`revocation_unavailable` (committed, not yet in force: retry, with the same Idempotency-Key if one was sent) or `database_unavailable`";
}

/// The bodies the document lists as components (the `Json` answers refer to them by name).
pub fn schemas() -> Vec<(String, RefOr<Schema>)> {
    fn add<T: ToSchema>(out: &mut Vec<(String, RefOr<Schema>)>) {
        out.push((T::name().into_owned(), T::schema()));
        T::schemas(out);
    }
    let mut out = Vec::new();
    add::<OrderItems>(&mut out);
    add::<Registered>(&mut out);
    add::<Validated>(&mut out);
    add::<OrderPending>(&mut out);
    add::<HealthCheck>(&mut out);
    add::<WebhookCreated>(&mut out);
    add::<WebhookItem>(&mut out);
    add::<WebhookList>(&mut out);
    add::<DeliveryPage>(&mut out);
    add::<Queued>(&mut out);
    add::<AdminAssetPage>(&mut out);
    add::<AdminAssetItem>(&mut out);
    add::<VendorList>(&mut out);
    add::<TokenList>(&mut out);
    add::<TokenItem>(&mut out);
    add::<Redelivered>(&mut out);
    add::<OrderPage>(&mut out);
    add::<LinePage>(&mut out);
    add::<AssetPage>(&mut out);
    add::<AuditPage>(&mut out);
    add::<BatchAnswer>(&mut out);
    add::<super::wire::LinkItem>(&mut out);
    add::<super::wire::VendorItem>(&mut out);
    add::<super::wire::OrderDetailItem>(&mut out);
    add::<super::wire::OverviewItem>(&mut out);
    add::<super::wire::AccessLogItem>(&mut out);
    add::<super::wire::MeItem>(&mut out);
    add::<ErrorResponse>(&mut out);
    out
}
