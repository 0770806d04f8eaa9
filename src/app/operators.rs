//! Operators (people with admin tokens, and people at the CLI): who they
//! are, their console sessions, what they may change — each change through
//! the same use case a vendor's would go through, named `operator:<name>` or
//! `cli:<os user>` in the history and written to the audit log.

use secrecy::SecretString;
use serde_json::json;

use super::{App, AppError};
use crate::domain::secrets::{hash_presented_admin_token, hash_presented_session};
use crate::domain::{
    Actor, AdminId, AdminName, CancelWhy, Environment, OrderLineId, OrderRef, Role, TokenId,
    VendorId, VendorStatus, now_ms,
};
use crate::links::{Action, Minted};
use crate::store::admins::{AdminRecord, CreateAdminError, NewAudit};
pub use crate::store::admins::{AuditEntry, Operator, Session};
use crate::store::orders::OrderLine;
use crate::store::tokens::TokenRecord;
use crate::store::vendors::Vendor;

/// A vendor with how many active API tokens it has.
pub struct VendorSummary {
    pub vendor: Vendor,
    pub active_tokens: i64,
}

impl Operator {
    pub fn actor(&self) -> Actor {
        Actor::Operator(self.name.as_str().to_owned())
    }
}

/// Who makes an audited change: an operator (admin API, console) or a
/// person at the CLI (by operating-system user name).
#[derive(Clone, Debug)]
pub enum Auditor {
    Operator(Operator),
    Cli(String),
}

impl Auditor {
    pub fn actor(&self) -> Actor {
        match self {
            Self::Operator(o) => o.actor(),
            Self::Cli(user) => Actor::Cli(user.clone()),
        }
    }

    /// The one check of what a caller may change (SPEC §7): every use case
    /// that changes something asks it first, with the role it needs. People
    /// at the CLI hold the machine and its database: they may do everything.
    pub(super) fn permit(&self, needed: Role, action: &'static str) -> Result<(), AppError> {
        match self {
            Self::Operator(o) if !o.role.allows(needed) => {
                tracing::warn!(
                    admin = %o.name, role = %o.role, needed = %needed, action,
                    "refused: the operator's role is too low"
                );
                Err(AppError::RoleForbidden {
                    role: o.role,
                    needed,
                    action,
                })
            }
            _ => Ok(()),
        }
    }

    fn admin_id(&self) -> Option<AdminId> {
        match self {
            Self::Operator(o) => Some(o.id),
            Self::Cli(_) => None,
        }
    }
}

impl From<&Operator> for Auditor {
    fn from(o: &Operator) -> Self {
        Self::Operator(o.clone())
    }
}

impl App {
    /// The operator behind a presented admin token, if any (vendor tokens never are).
    pub async fn authenticate_admin(&self, presented: &str) -> Result<Option<Operator>, AppError> {
        let Some(hash) = hash_presented_admin_token(presented) else {
            return Ok(None);
        };
        Ok(self.store.authenticate_admin(&hash).await?)
    }

    /// Logs an operator in: a session (cookie secret and CSRF token) for `ttl_ms`.
    pub async fn open_session(
        &self,
        presented: &str,
        ttl_ms: i64,
    ) -> Result<Option<(Operator, SecretString, String)>, AppError> {
        let Some(operator) = self.authenticate_admin(presented).await? else {
            return Ok(None);
        };
        let (cookie, csrf) = self.store.create_session(operator.id, ttl_ms).await?;
        tracing::info!(admin = %operator.name, "operator logged in to the console");
        Ok(Some((operator, cookie, csrf)))
    }

    /// The live session a console cookie names.
    pub async fn session(&self, cookie: &str) -> Result<Option<Session>, AppError> {
        let Some(hash) = hash_presented_session(cookie) else {
            return Ok(None);
        };
        Ok(self
            .store
            .session(&hash)
            .await?
            .filter(|s| s.expires_at_ms > now_ms()))
    }

    pub async fn end_session(&self, cookie: &str) -> Result<(), AppError> {
        if let Some(hash) = hash_presented_session(cookie) {
            self.store.end_session(&hash).await?;
        }
        Ok(())
    }

    /// Writes an audit entry; a change is never undone because its entry failed.
    pub(super) async fn audit(
        &self,
        by: &Auditor,
        action: &'static str,
        target: String,
        details: serde_json::Value,
    ) {
        let entry = NewAudit {
            actor: by.actor(),
            admin_id: by.admin_id(),
            action,
            target,
            details,
        };
        if let Err(e) = self.store.record_audit(entry).await {
            tracing::error!(error = %e, action, "could not write an audit entry");
        }
    }

    /// The audit log, newest first.
    pub async fn audit_log(
        &self,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Vec<AuditEntry>, AppError> {
        Ok(self.store.audit_page(before, limit).await?)
    }

    /// Cancels for an operator: the vendor cancel's use case and guarantee
    /// (no links are minted: an operator does not hand them out here).
    pub async fn operator_cancel(
        &self,
        operator: &Operator,
        order: OrderRef,
        line: Option<OrderLineId>,
        why: &CancelWhy,
    ) -> Result<Vec<OrderLine>, AppError> {
        let by = Auditor::from(operator);
        by.permit(Role::Admin, "cancel orders")?;
        let _turn = self.cancel_turn();
        let lines = self
            .cancel_order(&operator.actor(), order, line, why)
            .await?;
        self.audit(
            &by,
            "cancel",
            order_target(order, line),
            json!({"reason": why.reason, "reason_code": why.code}),
        )
        .await;
        Ok(lines)
    }

    /// A fresh link for support, minted as the operator, valid for
    /// `lifetime_seconds` (1 minute to 7 days; the configured TTL if `None`).
    pub async fn operator_link(
        &self,
        operator: &Operator,
        order: OrderRef,
        line: OrderLineId,
        action: Action,
        lifetime_seconds: Option<i64>,
    ) -> Result<Minted, AppError> {
        let by = Auditor::from(operator);
        by.permit(Role::Support, "reissue links")?;
        if let Some(s) = lifetime_seconds
            && !(60..=7 * 24 * 3600).contains(&s)
        {
            return Err(AppError::invalid(
                "lifetime_seconds",
                "must be 60 to 604800 (7 days)",
            ));
        }
        let minted = self
            .link(
                &operator.actor(),
                order,
                line,
                action,
                "operator",
                lifetime_seconds,
            )
            .await?;
        self.audit(
            &by,
            "link_reissue",
            order_target(order, Some(line)),
            json!({"action": action.as_str(), "jti": minted.jti}),
        )
        .await;
        Ok(minted)
    }

    /// Every vendor, with its active token count.
    pub async fn vendors(&self) -> Result<Vec<VendorSummary>, AppError> {
        let counts = self.store.active_token_counts().await?;
        Ok(self
            .store
            .list_vendors()
            .await?
            .into_iter()
            .map(|vendor| VendorSummary {
                active_tokens: counts.get(&vendor.vendor_id).copied().unwrap_or(0),
                vendor,
            })
            .collect())
    }

    pub async fn vendor(&self, id: VendorId) -> Result<Vendor, AppError> {
        self.store
            .get_vendor(id)
            .await?
            .ok_or(AppError::VendorNotFound(id))
    }

    /// Suspends (API calls get 403) or activates a vendor.
    pub async fn set_vendor_status(
        &self,
        by: impl Into<Auditor>,
        id: VendorId,
        status: VendorStatus,
    ) -> Result<Vendor, AppError> {
        let by = by.into();
        by.permit(Role::Admin, "suspend or activate vendors")?;
        let vendor = self
            .store
            .set_vendor_status(id, status)
            .await?
            .ok_or(AppError::VendorNotFound(id))?;
        let action = match status {
            VendorStatus::Active => "vendor_activate",
            VendorStatus::Suspended => "vendor_suspend",
        };
        self.audit(
            &by,
            action,
            format!("vendor {id}"),
            json!({"name": vendor.name}),
        )
        .await;
        Ok(vendor)
    }

    pub async fn vendor_tokens(&self, id: VendorId) -> Result<Vec<TokenRecord>, AppError> {
        self.vendor(id).await?;
        Ok(self.store.list_tokens(id).await?)
    }

    /// Revokes a vendor's API token (its calls get 401 from then on).
    pub async fn operator_revoke_token(
        &self,
        by: impl Into<Auditor>,
        id: TokenId,
    ) -> Result<TokenRecord, AppError> {
        let by = by.into();
        by.permit(Role::Admin, "revoke API tokens")?;
        let token = self
            .store
            .revoke_token(id)
            .await?
            .ok_or(AppError::TokenNotFound(id))?;
        self.audit(
            &by,
            "token_revoke",
            format!("token {id}"),
            json!({"vendor_id": token.vendor_id, "prefix": token.prefix}),
        )
        .await;
        Ok(token)
    }
}

/// A new API token and its secret (shown once).
pub struct CreatedToken {
    pub record: TokenRecord,
    pub secret: SecretString,
}

/// A new operator and its admin token (shown once).
pub struct CreatedAdmin {
    pub admin: AdminRecord,
    pub token: SecretString,
}

/// Accounts: vendors, their API tokens, operators. Changes are audited.
impl App {
    pub async fn create_vendor(&self, by: &Auditor, name: &str) -> Result<Vendor, AppError> {
        by.permit(Role::Admin, "create vendors")?;
        let name = name.trim();
        if !(1..=200).contains(&name.chars().count()) {
            return Err(AppError::invalid("name", "must be 1 to 200 characters"));
        }
        let vendor = self.store.create_vendor(name).await?;
        self.audit(
            by,
            "vendor_create",
            format!("vendor {}", vendor.vendor_id),
            json!({"name": vendor.name}),
        )
        .await;
        Ok(vendor)
    }

    /// A new API token for the vendor in one environment.
    pub async fn create_token(
        &self,
        by: &Auditor,
        vendor: VendorId,
        environment: Environment,
    ) -> Result<CreatedToken, AppError> {
        by.permit(Role::Admin, "create API tokens")?;
        let (record, secret) = self
            .store
            .create_token(vendor, environment)
            .await?
            .ok_or(AppError::VendorNotFound(vendor))?;
        self.audit(
            by,
            "token_create",
            format!("token {}", record.token_id),
            json!({"vendor_id": vendor, "environment": environment, "prefix": record.prefix}),
        )
        .await;
        Ok(CreatedToken { record, secret })
    }

    pub async fn admins(&self) -> Result<Vec<AdminRecord>, AppError> {
        Ok(self.store.list_admins().await?)
    }

    /// A new operator; its token is shown once.
    pub async fn create_admin(
        &self,
        by: &Auditor,
        name: AdminName,
        role: Role,
    ) -> Result<CreatedAdmin, AppError> {
        by.permit(Role::Admin, "create operators")?;
        let (admin, token) = match self.store.create_admin(name, role).await {
            Ok(created) => created,
            Err(CreateAdminError::NameTaken(name)) => {
                return Err(AppError::invalid(
                    "name",
                    format!("an admin named {name} already exists"),
                ));
            }
            Err(CreateAdminError::Store(e)) => return Err(e.into()),
        };
        self.audit(
            by,
            "admin_create",
            format!("admin {}", admin.admin_id),
            json!({"name": admin.name, "role": admin.role}),
        )
        .await;
        Ok(CreatedAdmin { admin, token })
    }

    /// Revokes an operator's token and ends its console sessions.
    pub async fn revoke_admin(&self, by: &Auditor, id: AdminId) -> Result<AdminRecord, AppError> {
        by.permit(Role::Admin, "revoke operators")?;
        let admin = self
            .store
            .revoke_admin(id)
            .await?
            .ok_or(AppError::AdminNotFound(id))?;
        self.audit(
            by,
            "admin_revoke",
            format!("admin {id}"),
            json!({"name": admin.name}),
        )
        .await;
        Ok(admin)
    }
}

impl App {
    /// Changes an operator's role; audited as `admin_set_role` with the old
    /// and the new role.
    pub async fn set_admin_role(
        &self,
        by: &Auditor,
        id: AdminId,
        role: Role,
    ) -> Result<AdminRecord, AppError> {
        by.permit(Role::Admin, "change roles")?;
        let before = self
            .store
            .admin(id)
            .await?
            .ok_or(AppError::AdminNotFound(id))?;
        let admin = self
            .store
            .set_admin_role(id, role)
            .await?
            .ok_or(AppError::AdminNotFound(id))?;
        self.audit(
            by,
            "admin_set_role",
            format!("admin {id}"),
            json!({"name": admin.name, "from": before.role, "to": admin.role}),
        )
        .await;
        Ok(admin)
    }
}

/// How an order (or one of its lines) is named in the audit log.
fn order_target(order: OrderRef, line: Option<OrderLineId>) -> String {
    let base = format!(
        "order {} {} {}",
        order.tenant.vendor, order.tenant.environment, order.order
    );
    match line {
        Some(line) => format!("{base} line {line}"),
        None => base,
    }
}
