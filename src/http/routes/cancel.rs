use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::app::idempotency::{Attempt, Work};
use crate::domain::{CancelWhy, OrderLineId, OrderNumber};
use crate::http::error::{ApiError, ErrorResponse};
use crate::http::extract::{ApiQuery, Field as _, IdempotencyHeader, OptionalJson, Vendor};
use crate::http::params::parse_why;
use crate::http::responses::{
    BodyErrors, Created, InProgress, OrderItems, OrderNotFound, RevocationUnavailable, idempotent,
};
use crate::http::state::AppState;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CancelQuery {
    order_id: i64,
    order_line_id: Option<i64>,
    reason: Option<String>,
    reason_code: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct CancelBody {
    reason: Option<String>,
    reason_code: Option<String>,
}

impl CancelQuery {
    /// The order, line and reason, as domain values. The reason comes from the
    /// query string or else from the body.
    pub fn parse(
        &self,
        body: Option<&CancelBody>,
    ) -> Result<(OrderNumber, Option<OrderLineId>, CancelWhy), ApiError> {
        let reason = self
            .reason
            .as_deref()
            .or_else(|| body.and_then(|b| b.reason.as_deref()));
        let code = self
            .reason_code
            .as_deref()
            .or_else(|| body.and_then(|b| b.reason_code.as_deref()));
        let why = parse_why(reason, code)?;
        let line = self
            .order_line_id
            .map(OrderLineId::parse)
            .transpose()
            .field("order_line_id")?;
        let order = OrderNumber::parse(self.order_id).field("order_id")?;
        Ok((order, line, why))
    }
}

/// `DELETE /purchase/cancel`: cancels one line or every cancelable line of an
/// order. Answers 201 only once the revocation is in force for every instance.
#[utoipa::path(
    delete,
    path = "/purchase/cancel",
    tag = "purchase",
    params(CancelQuery, IdempotencyHeader),
    request_body = Option<CancelBody>,
    responses(
        Created<OrderItems>,
        OrderNotFound,
        InProgress,
        (status = 422, description = "`invalid_request`: `details.field` names the field; `order_not_cancelable`, `idempotency_key_reused`", body = ErrorResponse),
        RevocationUnavailable,
        BodyErrors
    )
)]
pub async fn cancel(
    caller: Vendor,
    state: web::Data<AppState>,
    req: HttpRequest,
    IdempotencyHeader(key): IdempotencyHeader,
    ApiQuery(q): ApiQuery<CancelQuery>,
    OptionalJson(body): OptionalJson<CancelBody>,
) -> Result<HttpResponse, ApiError> {
    let fingerprint_body = format!(
        "{}\n{}",
        body.as_ref()
            .and_then(|b| b.reason.as_deref())
            .unwrap_or_default(),
        body.as_ref()
            .and_then(|b| b.reason_code.as_deref())
            .unwrap_or_default()
    );
    let (app, actor) = (&state.app, caller.actor());
    let once = (caller.tenant, key);
    let body_material = fingerprint_body.as_bytes();
    idempotent(
        &state,
        &req,
        once,
        body_material,
        Work::Cancel,
        |attempt| async move {
            let (order, line, why) = q.parse(body.as_ref())?;
            let order = caller.tenant.order(order);
            let lines = match attempt {
                Attempt::First => app.cancel(&actor, order, line, &why).await?,
                // The first attempt canceled the lines; put their revocation in force.
                Attempt::Resume(_) => app.resume_cancel(&actor, order).await?,
            };
            Ok(Created::new(OrderItems::from(lines)))
        },
    )
    .await
}
