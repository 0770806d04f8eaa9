//! `Idempotency-Key` handling shared by register and cancel: the first answer
//! (status and body) is stored and replayed byte for byte.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError as _};

use super::error::ApiError;
use super::extract::Caller;
use crate::domain::IdempotencyKey;
use crate::domain::secrets::sha256_hex;
use crate::state::AppState;
use crate::store::idempotency::{Begin, KeyScope};

/// Which run of a request this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attempt {
    First,
    /// A retry of a request whose work was committed but whose answer was a
    /// resumable 503 (`revocation_unavailable`): finish the job, do not redo it.
    Resume,
}

/// A successful answer before it becomes a response.
pub struct Answer {
    pub status: StatusCode,
    pub body: serde_json::Value,
}

fn json_response(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/json")
        .body(body)
}

fn resumable(e: &ApiError) -> bool {
    matches!(e, ApiError::RevocationUnavailable)
}

/// Runs `run` at most once per (vendor, environment, key); without a key, just runs it.
pub async fn idempotent<Fut>(
    state: &AppState,
    caller: &Caller,
    key: Option<IdempotencyKey>,
    req: &HttpRequest,
    body: &[u8],
    run: impl FnOnce(Attempt) -> Fut,
) -> Result<HttpResponse, ApiError>
where
    Fut: Future<Output = Result<Answer, ApiError>>,
{
    let Some(key) = key else {
        let answer = run(Attempt::First).await?;
        return Ok(json_response(answer.status, answer.body.to_string()));
    };
    let scope = KeyScope {
        vendor: caller.vendor,
        environment: caller.environment,
        key: &key,
    };
    let mut material =
        format!("{}\n{}\n{}\n", req.method(), req.path(), req.query_string()).into_bytes();
    material.extend_from_slice(body);
    let fingerprint = sha256_hex(&material);
    let attempt = match state.store.idempotency_begin(&scope, &fingerprint).await? {
        Begin::Replay { status: 503, .. } => Attempt::Resume,
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
        Begin::New => Attempt::First,
    };
    let (status, text) = match run(attempt).await {
        Ok(answer) => (answer.status, answer.body.to_string()),
        Err(e) if resumable(&e) => {
            // The work is committed; remember that so a retry resumes it.
            let text = serde_json::to_string(&e.body()).unwrap_or_default();
            state
                .store
                .idempotency_finish(&scope, e.status_code().as_u16(), &text)
                .await?;
            return Err(e);
        }
        Err(e) if e.status_code().is_server_error() => {
            // Not an answer to keep: let a retry run the request again.
            if attempt == Attempt::First
                && let Err(db) = state.store.idempotency_abandon(&scope).await
            {
                tracing::warn!(error = %db, "could not release an idempotency key");
            }
            return Err(e);
        }
        Err(e) => (
            e.status_code(),
            serde_json::to_string(&e.body()).unwrap_or_default(),
        ),
    };
    state
        .store
        .idempotency_finish(&scope, status.as_u16(), &text)
        .await?;
    Ok(json_response(status, text))
}
