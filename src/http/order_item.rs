//! `OrderItem` (SPEC §4), with fresh links for COMPLETED lines.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::json;

use super::error::ApiError;
use crate::domain::{LineStatus, ms_to_rfc3339, now_ms};
use crate::links::Action;
use crate::state::AppState;
use crate::store::assets::Asset;
use crate::store::events::{EventKind, NewEvent};
use crate::store::orders::OrderLine;

#[derive(Debug, Serialize)]
pub struct OrderItem {
    pub order_id: i64,
    pub order_line_id: i64,
    pub asset_id: i64,
    pub customer: String,
    pub unit_price: f64,
    pub line_item_price: f64,
    pub quantity: i32,
    pub country_code: Option<String>,
    pub download_url: Option<String>,
    pub view_url: Option<String>,
    pub status: LineStatus,
    pub created_at: String,
    pub updated_at: String,
    pub canceled_at: Option<String>,
    pub cancel_reason: Option<String>,
    pub failure_message: Option<String>,
    pub metadata: Option<serde_json::Value>,
}

/// Mints a link and the history event that records it.
pub fn mint_link(
    state: &AppState,
    line: &OrderLine,
    asset: &Asset,
    action: Action,
    via: &str,
) -> Result<(crate::links::Minted, NewEvent), ApiError> {
    let minted = state
        .signer
        .mint(line.line_id, action, asset)
        .map_err(ApiError::internal)?;
    let event = NewEvent {
        line_id: line.line_id,
        kind: EventKind::LinkIssued,
        at_ms: now_ms(),
        data: json!({
            "action": action.as_str(),
            "jti": minted.jti,
            "expires_at": ms_to_rfc3339(minted.expires_at * 1000),
            "via": via,
        }),
    };
    Ok((minted, event))
}

/// Builds the items of an order, minting links where the spec says so.
pub async fn order_items(
    state: &AppState,
    lines: &[OrderLine],
    via: &str,
) -> Result<Vec<OrderItem>, ApiError> {
    let ids: Vec<i64> = lines.iter().map(|l| l.asset_id.get()).collect();
    let assets: HashMap<i64, Asset> = state
        .store
        .get_assets(&ids)
        .await?
        .into_iter()
        .map(|a| (a.asset_id.get(), a))
        .collect();
    let mut events = Vec::new();
    let mut items = Vec::with_capacity(lines.len());
    for line in lines {
        let asset = assets
            .get(&line.asset_id.get())
            .filter(|_| line.status == LineStatus::Completed);
        let mut link = |action| -> Result<String, ApiError> {
            let (minted, event) = mint_link(
                state,
                line,
                asset.ok_or(ApiError::FileUnavailable)?,
                action,
                via,
            )?;
            events.push(event);
            Ok(minted.url)
        };
        let download_url = asset.map(|_| link(Action::Download)).transpose()?;
        let view_url = asset
            .filter(|a| a.viewable)
            .map(|_| link(Action::View))
            .transpose()?;
        items.push(OrderItem {
            order_id: line.order_number.get(),
            order_line_id: line.order_line_id.get(),
            asset_id: line.asset_id.get(),
            customer: line.customer.clone(),
            unit_price: line.unit_price,
            line_item_price: line.line_item_price,
            quantity: line.quantity,
            country_code: line.country_code.clone(),
            download_url,
            view_url,
            status: line.status,
            created_at: ms_to_rfc3339(line.created_at_ms),
            updated_at: ms_to_rfc3339(line.updated_at_ms),
            canceled_at: line.canceled_at_ms.map(ms_to_rfc3339),
            cancel_reason: line.cancel_reason.clone(),
            failure_message: line.failure_message.clone(),
            metadata: line.metadata.clone(),
        });
    }
    state.store.record_events(events).await?;
    Ok(items)
}
