//! Operators (people with admin tokens): who they are, their console
//! sessions, what they may change — each change through the same use case a
//! vendor's would go through, named `operator:<name>` in the history and
//! written to the audit log.

use secrecy::SecretString;
use serde_json::json;

use super::{App, AppError};
use crate::domain::secrets::{hash_presented_admin_token, hash_presented_session};
use crate::domain::{
    Actor, CancelWhy, OrderLineId, OrderRef, TokenId, VendorId, VendorStatus, now_ms,
};
use crate::links::{Action, Minted};
use crate::store::admins::NewAudit;
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
        operator: &Operator,
        action: &'static str,
        target: String,
        details: serde_json::Value,
    ) {
        let entry = NewAudit {
            operator: operator.clone(),
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
        let _turn = self.cancel_turn();
        let lines = self
            .cancel_order(&operator.actor(), order, line, why)
            .await?;
        self.audit(
            operator,
            "cancel",
            order_target(order, line),
            json!({"reason": why.reason, "reason_code": why.code}),
        )
        .await;
        Ok(lines)
    }

    /// A fresh link for support, minted as the operator.
    pub async fn operator_link(
        &self,
        operator: &Operator,
        order: OrderRef,
        line: OrderLineId,
        action: Action,
    ) -> Result<Minted, AppError> {
        let minted = self
            .link(&operator.actor(), order, line, action, "operator")
            .await?;
        self.audit(
            operator,
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
        operator: &Operator,
        id: VendorId,
        status: VendorStatus,
    ) -> Result<Vendor, AppError> {
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
            operator,
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
        operator: &Operator,
        id: TokenId,
    ) -> Result<TokenRecord, AppError> {
        let token = self
            .store
            .revoke_token(id)
            .await?
            .ok_or(AppError::TokenNotFound(id))?;
        self.audit(
            operator,
            "token_revoke",
            format!("token {id}"),
            json!({"vendor_id": token.vendor_id, "prefix": token.prefix}),
        )
        .await;
        Ok(token)
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
