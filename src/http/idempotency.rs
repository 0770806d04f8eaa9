//! `Idempotency-Key` on register and cancel: the first answer (status and
//! body) is stored and replayed byte for byte to a retry of the same request.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError as _};

use super::error::ApiError;
use crate::app::AppError;
use crate::app::idempotency::{Answer, Begin};
use crate::domain::secrets::sha256_hex;
use crate::domain::{IdempotencyKey, Tenant};
use crate::http::state::AppState;

/// Which run of a request this is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempt {
    First,
    /// A retry of a request whose work was committed but whose answer was
    /// resumable (`revocation_unavailable`): finish the job, do not redo it.
    /// The body answered then comes with it.
    Resume(String),
}

/// A successful answer before it becomes a response.
pub struct Reply {
    pub status: StatusCode,
    pub body: serde_json::Value,
    /// The work is done but not all confirmed: a retry with the key resumes it.
    pub resumable: bool,
}

impl Reply {
    pub fn new(status: StatusCode, body: serde_json::Value) -> Self {
        Self {
            status,
            body,
            resumable: false,
        }
    }
}

fn json_response(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/json")
        .body(body)
}

/// Committed work whose confirmation is missing: a retry resumes it.
fn resumable(e: &ApiError) -> bool {
    matches!(e, ApiError::App(AppError::RevocationUnavailable))
}

/// Runs `run` at most once per (tenant, key); without a key, just runs it.
pub async fn idempotent<Fut>(
    state: &AppState,
    tenant: Tenant,
    key: Option<IdempotencyKey>,
    req: &HttpRequest,
    body: &[u8],
    run: impl FnOnce(Attempt) -> Fut,
) -> Result<HttpResponse, ApiError>
where
    Fut: Future<Output = Result<Reply, ApiError>>,
{
    let Some(key) = key else {
        let reply = run(Attempt::First).await?;
        return Ok(json_response(reply.status, reply.body.to_string()));
    };
    let keyed = state.app.idempotency(tenant, &key);
    let mut material =
        format!("{}\n{}\n{}\n", req.method(), req.path(), req.query_string()).into_bytes();
    material.extend_from_slice(body);
    let fingerprint = sha256_hex(&material);
    let attempt = match keyed.begin(&fingerprint).await? {
        Begin::New => Attempt::First,
        Begin::Resume { body } => Attempt::Resume(body),
        Begin::Replay { status, body } => {
            return Ok(
                HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::OK))
                    .content_type("application/json")
                    .insert_header(("Idempotent-Replayed", "true"))
                    .body(body),
            );
        }
        Begin::Mismatch => return Err(ApiError::IdempotencyKeyReused),
        Begin::InProgress => return Err(ApiError::IdempotencyInProgress),
    };
    let first = attempt == Attempt::First;
    let (status, text, resume) = match run(attempt).await {
        Ok(reply) => (reply.status, reply.body.to_string(), reply.resumable),
        Err(e) if resumable(&e) => (
            e.status_code(),
            serde_json::to_string(&e.body()).unwrap_or_default(),
            true,
        ),
        Err(e) if e.status_code().is_server_error() => {
            // Not an answer to keep: let a retry run the request again.
            if first && let Err(db) = keyed.abandon().await {
                tracing::warn!(error = %db, "could not release an idempotency key");
            }
            return Err(e);
        }
        Err(e) => (
            e.status_code(),
            serde_json::to_string(&e.body()).unwrap_or_default(),
            false,
        ),
    };
    let answer = Answer {
        status: status.as_u16(),
        body: &text,
        resumable: resume,
    };
    keyed.finish(answer).await?;
    if resume && status.is_server_error() {
        return Err(ApiError::App(AppError::RevocationUnavailable));
    }
    Ok(json_response(status, text))
}
