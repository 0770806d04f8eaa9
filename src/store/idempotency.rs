//! `Idempotency-Key` (extension): the first answer to a (vendor, environment,
//! key) is stored and replayed to retries of the same request.

use sea_orm::{
    ActiveValue::Set, ColumnTrait as _, EntityTrait as _, QueryFilter as _, sea_query::Expr,
};

use super::entities::idempotency_keys;
use super::{Op as _, Store, StoreError, is_unique_violation};
use crate::domain::{IdempotencyKey, Tenant, now_ms};

/// How long keys are kept at least (SPEC: 24 h); purged after twice that.
pub const KEEP_MS: i64 = 48 * 3600 * 1000;

/// A key still without an answer after this long belongs to a request that
/// died (crash, restart) rather than one still running: the next retry takes
/// it over and runs the request again, instead of answering 409 until purged.
pub const STALE_IN_PROGRESS_MS: i64 = 60_000;

#[derive(Debug, PartialEq, Eq)]
pub enum Begin {
    /// First use: run the request, then `finish`.
    New,
    /// Seen before with the same request: replay this answer.
    Replay { status: u16, body: String },
    /// Seen before with the same request, whose work was committed but whose
    /// answer was not final (`finish` with `resumable`): finish the job. The
    /// answer given then comes with it.
    Resume { body: String },
    /// Seen before with a different request.
    Mismatch,
    /// The first request with this key is still running.
    InProgress,
}

/// The stored answer of a request.
pub struct Answer<'a> {
    pub status: u16,
    pub body: &'a str,
    /// The work is committed but the answer is not final: a retry resumes it.
    pub resumable: bool,
}

pub struct KeyScope<'a> {
    pub tenant: Tenant,
    pub key: &'a IdempotencyKey,
}

impl KeyScope<'_> {
    fn filter(&self) -> sea_orm::Condition {
        sea_orm::Condition::all()
            .add(idempotency_keys::Column::VendorId.eq(self.tenant.vendor))
            .add(idempotency_keys::Column::Environment.eq(self.tenant.environment))
            .add(idempotency_keys::Column::Key.eq(self.key.as_str()))
    }
}

impl Store {
    pub async fn idempotency_begin(
        &self,
        scope: &KeyScope<'_>,
        request_hash: &str,
    ) -> Result<Begin, StoreError> {
        let op = "claiming an idempotency key";
        let row = idempotency_keys::ActiveModel {
            vendor_id: Set(scope.tenant.vendor),
            environment: Set(scope.tenant.environment),
            key: Set(scope.key.as_str().to_owned()),
            request_hash: Set(request_hash.to_owned()),
            response_status: Set(None),
            response_body: Set(None),
            resumable: Set(false),
            created_at_ms: Set(now_ms()),
        };
        match idempotency_keys::Entity::insert(row)
            .exec_without_returning(self.conn())
            .await
        {
            Ok(_) => return Ok(Begin::New),
            Err(e) if is_unique_violation(&e) => {}
            Err(e) => return Err(StoreError::from_db(op, e)),
        }
        let Some(found) = idempotency_keys::Entity::find()
            .filter(scope.filter())
            .one(self.conn())
            .await
            .op(op)?
        else {
            // Purged or abandoned between our insert and read: treat as in progress.
            return Ok(Begin::InProgress);
        };
        if found.request_hash != request_hash {
            return Ok(Begin::Mismatch);
        }
        Ok(match (found.response_status, found.response_body) {
            (_, Some(body)) if found.resumable => Begin::Resume { body },
            (Some(status), Some(body)) => Begin::Replay {
                status: u16::try_from(status).unwrap_or(500),
                body,
            },
            _ if self.idempotency_take_over(scope, request_hash).await? => Begin::New,
            _ => Begin::InProgress,
        })
    }

    /// Claims a key whose request died without an answer. One conditional
    /// UPDATE, so of several concurrent retries exactly one wins.
    async fn idempotency_take_over(
        &self,
        scope: &KeyScope<'_>,
        request_hash: &str,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let res = idempotency_keys::Entity::update_many()
            .col_expr(idempotency_keys::Column::CreatedAtMs, Expr::value(now))
            .filter(scope.filter())
            .filter(idempotency_keys::Column::RequestHash.eq(request_hash))
            .filter(idempotency_keys::Column::ResponseStatus.is_null())
            .filter(idempotency_keys::Column::CreatedAtMs.lt(now - STALE_IN_PROGRESS_MS))
            .exec(self.conn())
            .await
            .op("taking over an idempotency key")?;
        if res.rows_affected == 1 {
            tracing::warn!("taking over an idempotency key whose first request never answered");
        }
        Ok(res.rows_affected == 1)
    }

    pub async fn idempotency_finish(
        &self,
        scope: &KeyScope<'_>,
        answer: &Answer<'_>,
    ) -> Result<(), StoreError> {
        idempotency_keys::Entity::update_many()
            .col_expr(
                idempotency_keys::Column::ResponseStatus,
                Expr::value(i32::from(answer.status)),
            )
            .col_expr(
                idempotency_keys::Column::ResponseBody,
                Expr::value(answer.body),
            )
            .col_expr(
                idempotency_keys::Column::Resumable,
                Expr::value(answer.resumable),
            )
            .filter(scope.filter())
            // A final answer is never rewritten (e.g. by an earlier attempt's
            // answer stored late, once the database is back).
            .filter(
                sea_orm::Condition::any()
                    .add(idempotency_keys::Column::ResponseStatus.is_null())
                    .add(idempotency_keys::Column::Resumable.eq(true)),
            )
            .exec(self.conn())
            .await
            .op("storing an idempotent answer")
            .map(|_| ())
    }

    /// Forgets a key whose request failed with a server error, so a retry runs
    /// again. Only a claim without an answer: a stored answer is never lost.
    pub async fn idempotency_abandon(&self, scope: &KeyScope<'_>) -> Result<(), StoreError> {
        idempotency_keys::Entity::delete_many()
            .filter(scope.filter())
            .filter(idempotency_keys::Column::ResponseStatus.is_null())
            .exec(self.conn())
            .await
            .op("releasing an idempotency key")
            .map(|_| ())
    }

    pub async fn idempotency_purge(&self) -> Result<u64, StoreError> {
        Ok(idempotency_keys::Entity::delete_many()
            .filter(idempotency_keys::Column::CreatedAtMs.lt(now_ms() - KEEP_MS))
            .exec(self.conn())
            .await
            .op("purging old idempotency keys")?
            .rows_affected)
    }
}
