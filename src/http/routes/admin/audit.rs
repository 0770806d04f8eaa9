use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::{decode_cursor, encode_cursor, page_size};
use crate::http::error::ApiError;
use crate::http::extract::{Admin, ApiQuery};
use crate::http::state::AppState;
use crate::http::wire::AuditItem;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    page_size: Option<i64>,
    cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct AuditPage {
    entries: Vec<AuditItem>,
    next_cursor: Option<String>,
}

/// `GET /admin/api/audit`: every admin change, newest first.
#[utoipa::path(
    get,
    path = "/admin/api/audit",
    tag = "admin",
    operation_id = "admin_audit",
    params(AuditQuery),
    responses(
        (status = 200, description = "Every operator change, newest first", body = AuditPage),
        (status = 422, description = "`invalid_request`: `details.field` names the field", body = crate::http::error::ErrorResponse),
        crate::http::openapi::AdminAuthErrors,
        crate::http::openapi::DatabaseUnavailable
    ),
    security(("admin_token" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn audit(
    _admin: Admin,
    state: web::Data<AppState>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = page_size(q.page_size, 50, 200)?;
    let before = q
        .cursor
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(|c| decode_cursor::<1>(c).map(|[id]| id))
        .transpose()?;
    let mut entries = state.app.audit_log(before, limit + 1).await?;
    let more = entries.len() as u64 > limit;
    entries.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next_cursor = more
        .then(|| entries.last().map(|e| encode_cursor(&[e.id])))
        .flatten();
    Ok(HttpResponse::Ok().json(AuditPage {
        entries: entries.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}
