//! Rate limits (SPEC §10), per instance: per vendor API token on the vendor
//! API, and optionally per client IP on `/access`. GCRA through `governor`:
//! a check is a few atomic operations on a sharded map, no await.
//!
//! The client IP is the peer's address, unless the peer is one of
//! `server.trusted_proxies`: then it is the last address in
//! `X-Forwarded-For` that is not a trusted proxy (each proxy appends the
//! address it received the request from, so that one is the client as far as
//! the nearest untrusted hop can be believed).

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// Whose budget an `/access` request spends: an IPv4 client's address; an
/// IPv6 client's /64 (one subscriber is usually given a whole /64, so keying
/// by full address would hand each client 2^64 budgets).
fn access_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// Failed logins per client per minute (a fixed window): past `max`, every
/// login attempt from that client is refused before its token is checked, so
/// a guess cannot succeed while the client is throttled.
struct FailedLogins {
    max: u32,
    seen: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

const LOGIN_WINDOW: Duration = Duration::from_secs(60);

impl FailedLogins {
    fn check(&self, client: IpAddr) -> Result<(), ApiError> {
        let seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match seen.get(&access_key(client)) {
            Some((since, failures)) if *failures >= self.max => {
                let left = LOGIN_WINDOW.saturating_sub(since.elapsed());
                if left.is_zero() {
                    return Ok(());
                }
                Err(ApiError::RateLimited {
                    limit: self.max,
                    retry_after_seconds: left.as_secs().max(1),
                })
            }
            _ => Ok(()),
        }
    }

    fn failed(&self, client: IpAddr) {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = seen
            .entry(access_key(client))
            .or_insert((Instant::now(), 0));
        if entry.0.elapsed() >= LOGIN_WINDOW {
            *entry = (Instant::now(), 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }

    fn forget_old(&self) {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        seen.retain(|_, (since, _)| since.elapsed() < LOGIN_WINDOW);
        seen.shrink_to_fit();
    }
}

/// Where a login was attempted (the label of `assetgate_failed_logins_total`).
#[derive(Clone, Copy, Debug)]
pub enum LoginSurface {
    VendorApi,
    AdminApi,
    Console,
}

impl LoginSurface {
    fn label(self) -> &'static str {
        match self {
            Self::VendorApi => "vendor_api",
            Self::AdminApi => "admin_api",
            Self::Console => "console",
        }
    }
}

/// Every limit of one instance, and who is believed about client addresses.
#[derive(Clone)]
pub struct Limits {
    vendor: Option<Arc<Limit<TokenId>>>,
    access: Option<Arc<Limit<IpAddr>>>,
    logins: Option<Arc<FailedLogins>>,
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
            logins: (r.failed_logins_per_minute > 0).then(|| {
                Arc::new(FailedLogins {
                    max: r.failed_logins_per_minute,
                    seen: Mutex::default(),
                })
            }),
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
            (Some(l), Some(ip)) => l.check(&access_key(ip)),
            _ => Ok(()),
        }
    }

    /// Whether `req`'s client may try a token now (429 after too many failures).
    pub fn login_allowed(&self, req: &HttpRequest) -> Result<(), ApiError> {
        match (&self.logins, self.client_ip(req)) {
            (Some(l), Some(ip)) => l.check(ip),
            _ => Ok(()),
        }
    }

    /// Records a presented token that matched nothing: logged, counted, and
    /// charged to the client's budget.
    pub fn login_failed(&self, req: &HttpRequest, surface: LoginSurface) {
        let client = self.client_ip(req);
        tracing::warn!(
            client = client.map(tracing::field::display),
            surface = surface.label(),
            "failed login: the presented token matches nothing"
        );
        metrics::counter!("assetgate_failed_logins_total", "surface" => surface.label())
            .increment(1);
        if let (Some(l), Some(ip)) = (&self.logins, client) {
            l.failed(ip);
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
                if let Some(l) = &limits.logins {
                    l.forget_old();
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_of_one_64_share_one_access_budget() {
        let limit: Limit<IpAddr> = Limit::new(1, 1).expect("a rate");
        let ip = |s: &str| s.parse::<IpAddr>().expect("an address");
        assert!(limit.check(&access_key(ip("2001:db8:1:2::1"))).is_ok());
        // Another address of the same /64 has no budget left.
        assert!(
            limit
                .check(&access_key(ip("2001:db8:1:2:ffff:ffff:ffff:fffe")))
                .is_err()
        );
        // Another /64 and an IPv4 client have their own.
        assert!(limit.check(&access_key(ip("2001:db8:1:3::1"))).is_ok());
        assert!(limit.check(&access_key(ip("192.0.2.7"))).is_ok());
        // An IPv4-mapped client is that IPv4 client.
        assert!(limit.check(&access_key(ip("::ffff:192.0.2.7"))).is_err());
    }

    #[test]
    fn a_client_past_its_failed_logins_is_refused_until_the_minute_ends() {
        let logins = FailedLogins {
            max: 3,
            seen: Mutex::default(),
        };
        let ip = |s: &str| s.parse::<IpAddr>().expect("an address");
        for _ in 0..3 {
            assert!(logins.check(ip("192.0.2.1")).is_ok());
            logins.failed(ip("192.0.2.1"));
        }
        let Err(ApiError::RateLimited {
            retry_after_seconds,
            ..
        }) = logins.check(ip("192.0.2.1"))
        else {
            panic!("a fourth attempt was allowed");
        };
        assert!((1..=60).contains(&retry_after_seconds));
        // Others are not affected.
        assert!(logins.check(ip("192.0.2.2")).is_ok());
        // The window over, the client may try again.
        logins
            .seen
            .lock()
            .expect("lock")
            .values_mut()
            .for_each(|(since, _)| *since -= LOGIN_WINDOW);
        assert!(logins.check(ip("192.0.2.1")).is_ok());
        logins.forget_old();
        assert!(logins.seen.lock().expect("lock").is_empty());
    }
}
