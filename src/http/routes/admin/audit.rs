use actix_web::web;
use serde::Deserialize;

use crate::http::error::ApiError;
use crate::http::extract::{Admin, ApiQuery};
use crate::http::params::{encode_cursor, id_cursor, page_of, page_size};
use crate::http::responses::{AuditPage, Json};
use crate::http::state::AppState;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    page_size: Option<i64>,
    cursor: Option<String>,
}

/// `GET /admin/api/audit`: every change by an operator or the CLI, newest first.
#[utoipa::path(
    get,
    path = "/admin/api/audit",
    tag = "admin",
    operation_id = "admin_audit",
    params(AuditQuery),
    responses(Json<AuditPage>),
)]
pub async fn audit(
    _admin: Admin,
    state: web::Data<AppState>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    let limit = page_size(q.page_size, 50, 200)?;
    let before = id_cursor(q.cursor.as_deref())?;
    let rows = state.app.audit_log(before, limit + 1).await?;
    let (entries, next_cursor) = page_of(rows, limit, |e| encode_cursor(&[e.id]));
    Ok(Json(AuditPage {
        entries: entries.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}
