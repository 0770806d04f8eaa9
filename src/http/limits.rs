//! Rate limits (SPEC §10), per instance: per vendor API token on the vendor
//! API, and optionally per client IP on `/access`. GCRA through `governor`:
//! a check is a few atomic operations on a sharded map, no await.
//!
//! The client IP is the peer's address, unless the peer is one of
//! `server.trusted_proxies`: then it is the last address in
//! `X-Forwarded-For` that is not a trusted proxy (each proxy appends the
//! address it received the request from, so that one is the client as far as
//! the nearest untrusted hop can be believed).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpRequest;
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use ipnet::IpNet;

use super::error::ApiError;
use crate::config::Settings;
use crate::domain::TokenId;

/// Keys not seen for this long are forgotten (memory stays bounded).
const FORGET_EVERY: Duration = Duration::from_secs(60);

/// A limiter and its rate (for the error message).
struct Limit<K: std::hash::Hash + Eq + Clone> {
    limiter: DefaultKeyedRateLimiter<K>,
    per_second: u32,
}

impl<K: std::hash::Hash + Eq + Clone> Limit<K> {
    fn new(per_second: u32, burst: u32) -> Option<Self> {
        let rate = NonZeroU32::new(per_second)?;
        let burst = NonZeroU32::new(burst).unwrap_or(rate);
        Some(Self {
            limiter: RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)),
            per_second,
        })
    }

    fn check(&self, key: &K) -> Result<(), ApiError> {
        self.limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            ApiError::RateLimited {
                limit: self.per_second,
                // Whole seconds, rounded up, at least 1.
                retry_after_seconds: (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1),
            }
        })
    }
}

/// Every limit of one instance, and who is believed about client addresses.
#[derive(Clone)]
pub struct Limits {
    vendor: Option<Arc<Limit<TokenId>>>,
    access: Option<Arc<Limit<IpAddr>>>,
    proxies: Arc<Vec<IpNet>>,
}

impl Limits {
    pub fn new(settings: &Settings) -> anyhow::Result<Self> {
        let r = &settings.rate_limit;
        let access_burst = match r.access_per_ip_burst {
            0 => r.access_per_ip_per_second.saturating_mul(2),
            n => n,
        };
        Ok(Self {
            vendor: Limit::new(r.vendor_per_second, r.vendor_burst).map(Arc::new),
            access: Limit::new(r.access_per_ip_per_second, access_burst).map(Arc::new),
            proxies: Arc::new(settings.server.proxies()?),
        })
    }

    /// One call of a vendor token.
    pub fn vendor(&self, token: TokenId) -> Result<(), ApiError> {
        self.vendor.as_ref().map_or(Ok(()), |l| l.check(&token))
    }

    /// One `/access` request from `client` (nothing to do when off).
    pub fn access(&self, client: Option<IpAddr>) -> Result<(), ApiError> {
        match (&self.access, client) {
            (Some(l), Some(ip)) => l.check(&ip),
            _ => Ok(()),
        }
    }

    pub fn access_enabled(&self) -> bool {
        self.access.is_some()
    }

    /// The client's address (see the module's doc).
    pub fn client_ip(&self, req: &HttpRequest) -> Option<IpAddr> {
        let peer = req.peer_addr()?.ip();
        if !self.trusted(peer) {
            return Some(peer);
        }
        let forwarded = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        for hop in forwarded.iter().rev() {
            match hop.parse::<IpAddr>() {
                Ok(ip) if self.trusted(ip) => {}
                Ok(ip) => return Some(ip),
                // Garbage from a hop we cannot believe further: stop at the proxy.
                Err(_) => return Some(peer),
            }
        }
        Some(peer)
    }

    fn trusted(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.proxies.iter().any(|net| net.contains(&ip))
    }

    /// Forgets idle keys, every minute, until `stop`.
    pub fn spawn_housekeeping(
        &self,
        stop: tokio_util::sync::CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let limits = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(FORGET_EVERY) => {}
                }
                if let Some(l) = &limits.vendor {
                    l.limiter.retain_recent();
                    l.limiter.shrink_to_fit();
                }
                if let Some(l) = &limits.access {
                    l.limiter.retain_recent();
                    l.limiter.shrink_to_fit();
                }
            }
        })
    }
}
