//! Operators: admin identities (tokens stored hashed), console sessions, and
//! the audit log of their changes.

use sea_orm::{
    ActiveModelTrait as _, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait as _,
    EntityTrait as _, QueryFilter as _, QueryOrder as _, QuerySelect as _, sea_query::Expr,
};
use secrecy::SecretString;

use super::entities::{admin_audit, admin_sessions, admins};
use super::{Op as _, Store, StoreError, is_unique_violation};
use crate::domain::secrets::{Hidden, generate_admin_token, generate_session, hashes_equal};
use crate::domain::{Actor, AdminId, AdminName, Role, now_ms};

/// An admin as listed: never the token.
pub use super::entities::admins::Model as AdminRecord;

/// An authenticated operator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operator {
    pub id: AdminId,
    pub name: AdminName,
    pub role: Role,
}

impl From<admins::Model> for Operator {
    fn from(a: admins::Model) -> Self {
        Self {
            id: a.admin_id,
            name: a.name,
            role: a.role,
        }
    }
}

/// A console session, resolved.
#[derive(Clone, Debug)]
pub struct Session {
    pub operator: Operator,
    pub csrf: Hidden,
    pub expires_at_ms: i64,
}

/// One audited change.
#[derive(Clone, Debug)]
pub struct NewAudit {
    pub actor: Actor,
    pub admin_id: Option<AdminId>,
    pub action: &'static str,
    pub target: String,
    pub details: serde_json::Value,
}

pub use super::entities::admin_audit::Model as AuditEntry;

#[derive(Debug, thiserror::Error)]
pub enum CreateAdminError {
    #[error("an admin named {0} already exists")]
    NameTaken(AdminName),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// Creates an admin; returns it and its token (shown once).
    pub async fn create_admin(
        &self,
        name: AdminName,
        role: Role,
    ) -> Result<(AdminRecord, SecretString), CreateAdminError> {
        let secret = generate_admin_token();
        let model = admins::ActiveModel {
            admin_id: Set(AdminId::new()),
            name: Set(name.clone()),
            token_hash: Set(secret.hash),
            display_prefix: Set(secret.display_prefix),
            role: Set(role),
            created_at_ms: Set(now_ms()),
            revoked_at_ms: Set(None),
        };
        match model.insert(self.conn()).await {
            Ok(admin) => Ok((admin, secret.secret)),
            Err(e) if is_unique_violation(&e) => Err(CreateAdminError::NameTaken(name)),
            Err(e) => Err(StoreError::from_db("creating an admin", e).into()),
        }
    }

    /// One admin, revoked or not.
    pub async fn admin(&self, id: AdminId) -> Result<Option<AdminRecord>, StoreError> {
        admins::Entity::find_by_id(id)
            .one(self.conn())
            .await
            .op("loading an admin")
    }

    pub async fn list_admins(&self) -> Result<Vec<AdminRecord>, StoreError> {
        admins::Entity::find()
            .order_by_asc(admins::Column::Name)
            .all(self.conn())
            .await
            .op("listing admins")
    }

    /// Revokes an admin's token and ends its sessions; `None` when unknown.
    pub async fn revoke_admin(&self, id: AdminId) -> Result<Option<AdminRecord>, StoreError> {
        let op = "revoking an admin";
        admins::Entity::update_many()
            .col_expr(admins::Column::RevokedAtMs, Expr::value(now_ms()))
            .filter(admins::Column::AdminId.eq(id))
            .filter(admins::Column::RevokedAtMs.is_null())
            .exec(self.conn())
            .await
            .op(op)?;
        admin_sessions::Entity::delete_many()
            .filter(admin_sessions::Column::AdminId.eq(id))
            .exec(self.conn())
            .await
            .op(op)?;
        admins::Entity::find_by_id(id).one(self.conn()).await.op(op)
    }

    /// Changes an admin's role (its live sessions see it on their next
    /// request); `None` when unknown.
    pub async fn set_admin_role(
        &self,
        id: AdminId,
        role: Role,
    ) -> Result<Option<AdminRecord>, StoreError> {
        let op = "changing an admin's role";
        admins::Entity::update_many()
            .col_expr(admins::Column::Role, Expr::value(role.as_str()))
            .filter(admins::Column::AdminId.eq(id))
            .exec(self.conn())
            .await
            .op(op)?;
        admins::Entity::find_by_id(id).one(self.conn()).await.op(op)
    }

    /// The active admin whose token hashes to `hash`.
    pub async fn authenticate_admin(&self, hash: &str) -> Result<Option<Operator>, StoreError> {
        let found = admins::Entity::find()
            .filter(admins::Column::TokenHash.eq(hash))
            .filter(admins::Column::RevokedAtMs.is_null())
            .one(self.conn())
            .await
            .op("authenticating an admin")?;
        Ok(found
            .filter(|a| hashes_equal(&a.token_hash, hash))
            .map(Operator::from))
    }

    /// Opens a console session for `ttl_ms`; returns the cookie secret and the CSRF token.
    pub async fn create_session(
        &self,
        admin: AdminId,
        ttl_ms: i64,
    ) -> Result<(SecretString, String), StoreError> {
        let (secret, csrf) = generate_session();
        let now = now_ms();
        admin_sessions::ActiveModel {
            id_hash: Set(secret.hash),
            admin_id: Set(admin),
            csrf: Set(Hidden::new(csrf.clone())),
            created_at_ms: Set(now),
            expires_at_ms: Set(now + ttl_ms),
        }
        .insert(self.conn())
        .await
        .op("opening a console session")?;
        Ok((secret.secret, csrf))
    }

    /// The live session with this hash, of an admin not revoked.
    pub async fn session(&self, hash: &str) -> Result<Option<Session>, StoreError> {
        let op = "reading a console session";
        let Some(session) = admin_sessions::Entity::find_by_id(hash.to_owned())
            .filter(admin_sessions::Column::ExpiresAtMs.gt(now_ms()))
            .one(self.conn())
            .await
            .op(op)?
        else {
            return Ok(None);
        };
        let admin = admins::Entity::find_by_id(session.admin_id)
            .filter(admins::Column::RevokedAtMs.is_null())
            .one(self.conn())
            .await
            .op(op)?;
        Ok(admin.map(|a| Session {
            operator: a.into(),
            csrf: session.csrf,
            expires_at_ms: session.expires_at_ms,
        }))
    }

    pub async fn end_session(&self, hash: &str) -> Result<(), StoreError> {
        admin_sessions::Entity::delete_by_id(hash.to_owned())
            .exec(self.conn())
            .await
            .op("ending a console session")
            .map(|_| ())
    }

    pub async fn purge_sessions(&self) -> Result<u64, StoreError> {
        Ok(admin_sessions::Entity::delete_many()
            .filter(admin_sessions::Column::ExpiresAtMs.lt(now_ms()))
            .exec(self.conn())
            .await
            .op("purging expired console sessions")?
            .rows_affected)
    }

    pub async fn record_audit(&self, entry: NewAudit) -> Result<(), StoreError> {
        admin_audit::ActiveModel {
            id: NotSet,
            at_ms: Set(now_ms()),
            actor: Set(entry.actor),
            admin_id: Set(entry.admin_id),
            action: Set(entry.action.to_owned()),
            target: Set(entry.target.chars().take(200).collect()),
            details: Set(entry.details.to_string()),
        }
        .insert(self.conn())
        .await
        .op("recording an audit entry")
        .map(|_| ())
    }

    /// Audit entries newest first, before entry `before` (keyset), at most `limit`.
    pub async fn audit_page(
        &self,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let mut q = admin_audit::Entity::find();
        if let Some(before) = before {
            q = q.filter(admin_audit::Column::Id.lt(before));
        }
        q.order_by_desc(admin_audit::Column::Id)
            .limit(limit)
            .all(self.conn())
            .await
            .op("reading the audit log")
    }
}
