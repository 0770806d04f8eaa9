//! A tenant's orders: loading one (404 for unknown and foreign orders alike),
//! `info`, and an order's items with fresh links for its COMPLETED lines.

use std::collections::{HashMap, HashSet};

use super::{App, AppError};
use crate::domain::{Actor, AssetId, LineId, LineStatus, OrderRef, Tenant, now_ms};
use crate::links::{Action, Minted};
use crate::store::assets::Asset;
pub use crate::store::orders::LineFilter;
use crate::store::orders::OrderLine;

/// A line with the links minted for it (only for COMPLETED lines; view only
/// for viewable assets).
pub struct LineView {
    pub line: OrderLine,
    pub download: Option<Minted>,
    pub view: Option<Minted>,
}

/// What `info` says about an order.
pub enum Info {
    /// Some line is still PROCESSING.
    Processing,
    /// Every line FAILED.
    AllFailed { message: String },
    /// Otherwise: the items, with links.
    Ready(Vec<LineView>),
}

/// A page of a tenant's lines, newest first.
pub struct LinePage {
    pub lines: Vec<OrderLine>,
    /// Where the next page starts: (created, line id) of the last line.
    pub next: Option<(i64, LineId)>,
}

impl App {
    /// The tenant's lines, newest first, `limit` per page (`/purchase/list`).
    pub async fn list_lines(
        &self,
        tenant: Tenant,
        filter: &LineFilter,
        after: Option<(i64, LineId)>,
        limit: u64,
    ) -> Result<LinePage, AppError> {
        let mut lines = self
            .store
            .list_lines(tenant, filter, after, limit.saturating_add(1))
            .await?;
        let more = lines.len() as u64 > limit;
        lines.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let next = more
            .then(|| lines.last().map(|l| (l.created_at_ms, l.line_id)))
            .flatten();
        Ok(LinePage { lines, next })
    }

    /// Every line of one of the tenant's orders; `order_not_found` when there is none.
    pub async fn order(&self, order: OrderRef) -> Result<Vec<OrderLine>, AppError> {
        tracing::Span::current().record("order_id", order.order.get());
        let lines = self.store.order_lines(order).await?;
        if lines.is_empty() {
            return Err(AppError::OrderNotFound {
                order: order.order,
                line: None,
            });
        }
        Ok(lines)
    }

    pub async fn info(&self, actor: &Actor, order: OrderRef) -> Result<Info, AppError> {
        let lines = self.order(order).await?;
        if lines.iter().any(|l| l.status == LineStatus::Processing) {
            return Ok(Info::Processing);
        }
        if lines.iter().all(|l| l.status == LineStatus::Failed) {
            let message = lines
                .iter()
                .find_map(|l| l.failure_message.as_deref())
                .unwrap_or("Fulfilment failed");
            return Ok(Info::AllFailed {
                message: format!("Every line of order {} failed: {message}", order.order),
            });
        }
        Ok(Info::Ready(self.with_links(actor, lines, "info").await?))
    }

    /// The lines with fresh links where the spec says so, recorded as
    /// `link_issued` by `actor` (`via` names the endpoint that minted it).
    /// These answers mint a link for every line each time a shop polls, so
    /// a line's link is recorded only when its last recorded link of that
    /// action is older than half the link lifetime: the history keeps one
    /// row per half-lifetime instead of one per poll, and no link of the
    /// line expires more than half a lifetime after the last one recorded.
    pub(super) async fn with_links(
        &self,
        actor: &Actor,
        lines: Vec<OrderLine>,
        via: &'static str,
    ) -> Result<Vec<LineView>, AppError> {
        let ids: Vec<AssetId> = lines.iter().map(|l| l.asset_id).collect();
        let assets: HashMap<AssetId, Asset> = self
            .store
            .get_assets(&ids)
            .await?
            .into_iter()
            .map(|a| (a.asset_id, a))
            .collect();
        let completed: Vec<LineId> = lines
            .iter()
            .filter(|l| l.status == LineStatus::Completed)
            .map(|l| l.line_id)
            .collect();
        let since = now_ms() - self.signer.ttl_seconds() * 500;
        let recent: HashSet<(LineId, String)> = self
            .store
            .links_issued_since(&completed, since)
            .await?
            .into_iter()
            .filter_map(|e| Some((e.line_id, e.data.get("action")?.as_str()?.to_owned())))
            .collect();
        let mut events = Vec::new();
        let mut items = Vec::with_capacity(lines.len());
        for line in lines {
            // Past its access window a line gets no new link (SPEC §12).
            let open = line.access_until_ms.is_none_or(|t| now_ms() <= t);
            let asset = assets
                .get(&line.asset_id)
                .filter(|_| line.status == LineStatus::Completed && open);
            let mut link = |asset: &Asset, action| -> Result<Minted, AppError> {
                let (minted, event) = self.mint(actor, &line, asset, action, via, None)?;
                if !recent.contains(&(line.line_id, action.as_str().to_owned())) {
                    events.push(event);
                }
                Ok(minted)
            };
            let download = asset.map(|a| link(a, Action::Download)).transpose()?;
            let view = asset
                .filter(|a| a.viewable)
                .map(|a| link(a, Action::View))
                .transpose()?;
            items.push(LineView {
                line,
                download,
                view,
            });
        }
        self.store.record_events(events).await?;
        Ok(items)
    }
}
