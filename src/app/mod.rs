//! The application layer: one module per use case, and the only place that
//! orchestrates the store, the revocation set, links and storage. Use cases
//! take typed domain values and an [`Actor`](crate::domain::Actor), return
//! domain results or an [`AppError`], and know nothing of HTTP: the vendor
//! API, the operator CLI and the background workers all call these.
//!
//! | module | owns |
//! |---|---|
//! | `access` | authorizing a link on the download path (no database) and opening its file |
//! | `auth` | resolving a presented API token to its vendor and environment |
//! | `cancel` | canceling lines (one, a whole order, a batch) and resuming a cancel |
//! | `catalogue` | assets: "asset or 404", the purchase rules, listing |
//! | `fulfil` | completing or failing PROCESSING lines |
//! | `health` | the checks behind `/health` |
//! | `idempotency` | claiming an `Idempotency-Key`, storing and replaying its answer |
//! | `items` | `OrderItem`, the public shape of a line (API answers, webhook payloads) |
//! | `links` | minting a link for a line, recorded in its history |
//! | `maintain` | keeping the revocation set complete and the outbox drained |
//! | `operators` | admin identities, console sessions, the audit log; operator cancel, link reissue, vendor and token changes |
//! | `orders` | loading a tenant's order, `info`, items with fresh links |
//! | `register` | registering a sale |
//! | `revoke` | putting revocations in force: the revocation guarantee, once |
//! | `search` | orders across vendors, one order's detail with live revocation state, the overview |
//! | `validate` | validate-before-payment tokens |
//! | `webhooks` | webhook endpoints (URL rules), the event each change emits, the delivery worker |
//! | `worker` | the one shape of every background worker |

mod access;
mod auth;
mod cancel;
mod catalogue;
mod error;
pub mod evidence;
mod fulfil;
mod health;
pub mod housekeeping;
pub mod idempotency;
pub mod items;
mod links;
mod maintain;
pub mod operators;
mod orders;
mod register;
mod revoke;
pub mod search;
pub mod stamp;
mod validate;
pub mod webhooks;
pub mod worker;

use std::sync::Arc;

pub use access::{Authorization, Grant, LinkedLine, Source, file_refusal};
pub use auth::{Authentication, VendorCaller};
pub use cancel::{BatchAnswer, BatchEntry, BatchResult, CancelTarget, EntryOutcome};
pub use catalogue::{AssetDraft, AssetPage, MigrateReport, Progress, VerifyReport};
pub use error::AppError;
pub use fulfil::{Fulfilment, Retry};
pub use health::Check;
pub use maintain::Maintainer;
pub use orders::{Info, LineFilter, LinePage, LineView};
pub use register::{Purchase, RegisterRequest};
pub use validate::{ValidateRequest, Validation};

use crate::links::LinkSigner;
use crate::revocation::SharedRevocations;
use crate::storage::Storage;
use crate::store::Store;

/// Rules that come from configuration.
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    /// How long a revocation must be kept: until every link minted up to now
    /// has expired (link TTL + margin + 1 s, since a JWT `exp` counts whole
    /// seconds and a link is valid through its `exp` second).
    pub revocation_window_ms: i64,
    /// Lifetime of a validate-before-payment token.
    pub validation_ttl_ms: i64,
}

/// Everything the use cases work with, built once at start-up; cheap to clone.
#[derive(Clone)]
pub struct App {
    store: Store,
    revocations: SharedRevocations,
    signer: Arc<LinkSigner>,
    storage: Storage,
    policy: Policy,
    /// Woken by register: lines are waiting.
    fulfilment: worker::Wake,
    /// Whether this instance's fulfilment worker (if it runs one) keeps failing.
    fulfilment_health: Arc<worker::Health>,
    /// Woken when a check found the set incomplete or a cancel could not confirm.
    maintainer: worker::Wake,
    /// Woken when a change recorded webhook events.
    deliveries: worker::Wake,
    webhook_rules: Arc<webhooks::WebhookRules>,
    /// Makes each buyer's copy of a stamped asset (SPEC §12).
    stamper: Arc<stamp::Stamper>,
}

impl App {
    pub fn new(
        store: Store,
        revocations: SharedRevocations,
        signer: Arc<LinkSigner>,
        storage: Storage,
        policy: Policy,
        webhook_rules: webhooks::WebhookRules,
        stamper: stamp::Stamper,
    ) -> Self {
        Self {
            store,
            revocations,
            signer,
            storage,
            policy,
            fulfilment: worker::Wake::default(),
            fulfilment_health: Arc::default(),
            maintainer: worker::Wake::default(),
            deliveries: worker::Wake::default(),
            webhook_rules: Arc::new(webhook_rules),
            stamper: Arc::new(stamper),
        }
    }

    /// Label of the revocation store (`redis` or `in-process`).
    pub fn revocation_store_kind(&self) -> &'static str {
        self.revocations.kind()
    }

    /// Where the catalogue lives: a folder, or `s3://bucket/prefix`.
    pub fn storage_description(&self) -> String {
        self.storage.describe()
    }
}
