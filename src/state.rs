//! Everything a request handler may need, built once at start-up.

use std::sync::Arc;

use crate::config::Settings;
use crate::fulfilment::FulfilmentHandle;
use crate::history::AccessLog;
use crate::links::LinkSigner;
use crate::revocation::{Maintainer, SharedRevocations};
use crate::storage::Storage;
use crate::store::Store;

/// The base of links and `next_page` URLs (newtype so it cannot be confused with other strings).
#[derive(Clone, Debug)]
pub struct PublicUrl(pub String);

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub revocations: SharedRevocations,
    pub maintainer: Maintainer,
    pub signer: Arc<LinkSigner>,
    pub storage: Storage,
    pub settings: Arc<Settings>,
    pub public_url: PublicUrl,
    pub fulfilment: FulfilmentHandle,
    pub access_log: AccessLog,
}

impl AppState {
    /// How long a revocation must be kept: until every link minted up to now has
    /// expired. A JWT `exp` counts whole seconds and a link is valid through its
    /// `exp` second, so one second is added on top of TTL and margin.
    pub fn revocation_window_ms(&self) -> i64 {
        let secs =
            self.settings.links.ttl_seconds + self.settings.links.revocation_margin_seconds + 1;
        i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX / 2)
    }
}
