//! sea-orm entities in the shape `sea-orm-cli generate entity` produces.
//! Do not put behaviour here; queries live in `store/*.rs` beside them. Columns
//! are typed with the domain values they hold (`LineId`, `LineStatus`, …).

pub mod access_counts;
pub mod admin_audit;
pub mod admin_sessions;
pub mod admins;
pub mod api_tokens;
pub mod assets;
pub mod idempotency_keys;
pub mod line_events;
pub mod order_lines;
pub mod orders;
pub mod validation_tokens;
pub mod vendors;
pub mod webhook_attempts;
pub mod webhook_deliveries;
pub mod webhook_events;
pub mod webhooks;
