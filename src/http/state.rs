//! Everything a request handler may need, built once at start-up.

use std::sync::Arc;

use crate::app::App;
use crate::config::Settings;
use crate::history::AccessLog;

/// The base of links and `next_page` URLs (newtype so it cannot be confused with other strings).
#[derive(Clone, Debug)]
pub struct PublicUrl(pub String);

#[derive(Clone)]
pub struct AppState {
    /// The use cases.
    pub app: App,
    pub settings: Arc<Settings>,
    pub public_url: PublicUrl,
    pub access_log: AccessLog,
    /// Rate limits of this instance, and whose `X-Forwarded-For` is believed.
    pub limits: super::limits::Limits,
}
