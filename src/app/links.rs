//! Minting a link for one COMPLETED line. Every minted link is recorded in the
//! line's history (`link_issued`, with its `jti` and expiry).

use serde_json::json;

use super::{App, AppError};
use crate::domain::{Actor, LineStatus, OrderLineId, OrderRef, Stamp, ms_to_rfc3339, now_ms};
use crate::links::{Action, LinkTarget, Minted};
use crate::store::assets::Asset;
use crate::store::events::{EventKind, NewEvent};
use crate::store::orders::OrderLine;

impl App {
    /// A fresh link for one line of the order, for `action`.
    pub async fn link(
        &self,
        actor: &Actor,
        order: OrderRef,
        line_no: OrderLineId,
        action: Action,
        via: &'static str,
        ttl_seconds: Option<i64>,
    ) -> Result<Minted, AppError> {
        let lines = self.order(order).await?;
        let line =
            lines
                .iter()
                .find(|l| l.order_line_id == line_no)
                .ok_or(AppError::OrderNotFound {
                    order: order.order,
                    line: Some(line_no),
                })?;
        tracing::Span::current().record("line_id", line.line_id.get());
        if line.status != LineStatus::Completed {
            return Err(AppError::OrderNotAccessible {
                order: order.order,
                line: line_no,
                current_status: line.status,
            });
        }
        if let Some(until_ms) = line.access_until_ms.filter(|&t| now_ms() > t) {
            return Err(AppError::AccessWindowClosed {
                order: order.order,
                line: line_no,
                until_ms,
            });
        }
        let asset = self.asset(line.asset_id).await?;
        if action == Action::View && !asset.viewable {
            return Err(AppError::AssetNotViewable(asset.asset_id));
        }
        // A link that outlives the configured TTL must not outlive the
        // revocation a later cancel puts in force: record its expiry first
        // (refused if the line stopped being COMPLETED meanwhile).
        if let Some(ttl) = ttl_seconds.filter(|&t| t > self.signer.ttl_seconds()) {
            let until_ms = now_ms() + ttl * 1000 + 5_000;
            if !self
                .store
                .extend_links_until(line.line_id, until_ms)
                .await?
            {
                return Err(AppError::OrderNotAccessible {
                    order: order.order,
                    line: line_no,
                    current_status: LineStatus::Canceled,
                });
            }
        }
        let (minted, event) = self.mint(actor, line, &asset, action, via, ttl_seconds)?;
        self.store.record_events(vec![event]).await?;
        Ok(minted)
    }

    /// Signs a link and builds the history event that records it.
    pub(super) fn mint(
        &self,
        actor: &Actor,
        line: &OrderLine,
        asset: &Asset,
        action: Action,
        via: &str,
        ttl_seconds: Option<i64>,
    ) -> Result<(Minted, NewEvent), AppError> {
        // A stamped asset's line is served its own copy, never the original.
        let (sha256, size_bytes) = match asset.stamp {
            Stamp::None => (&asset.sha256, asset.size_bytes),
            Stamp::Pdf => match (&line.copy_sha256, line.copy_size_bytes) {
                (Some(sha), Some(size)) if line.copy_removed_at_ms.is_none() => (sha, size),
                _ => {
                    return Err(AppError::internal(anyhow::anyhow!(
                        "line {} of stamped asset {} has no copy",
                        line.line_id,
                        asset.asset_id
                    )));
                }
            },
        };
        let target = LinkTarget {
            asset_id: asset.asset_id,
            sha256,
            size_bytes: u64::try_from(size_bytes).unwrap_or(0),
            content_type: &asset.content_type,
            file_name: &asset.file_name,
        };
        let minted = match ttl_seconds {
            Some(ttl) => self.signer.mint_lasting(line.line_id, action, target, ttl),
            None => self.signer.mint(line.line_id, action, target),
        }
        .map_err(AppError::internal)?;
        let event = NewEvent {
            line_id: line.line_id,
            kind: EventKind::LinkIssued,
            at_ms: now_ms(),
            actor: actor.clone(),
            data: json!({
                "action": action.as_str(),
                "jti": minted.jti,
                "expires_at": ms_to_rfc3339(minted.expires_at * 1000),
                "via": via,
            }),
        };
        Ok((minted, event))
    }
}
