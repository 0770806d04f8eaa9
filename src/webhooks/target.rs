//! Where a webhook may be sent (SPEC §9): http(s) only, plain http only when
//! `webhooks.allow_http`, and never to a loopback, private, link-local,
//! multicast or otherwise non-public address unless
//! `webhooks.allow_private_networks`. Names are checked as they resolve — at
//! registration and again at every delivery, through the resolver the HTTP
//! client connects with, so a name that starts resolving to an internal
//! address later is refused too.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use url::{Host, Url};

/// What the configuration allows.
#[derive(Clone, Copy, Debug, Default)]
pub struct Policy {
    pub allow_http: bool,
    pub allow_private_networks: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refused {
    #[error("it is not a URL")]
    NotAUrl,
    #[error("only http and https URLs can receive webhooks")]
    Scheme,
    #[error("plain http is not allowed here; use https (or set webhooks.allow_http)")]
    PlainHttp,
    #[error("credentials do not belong in a webhook URL; use the signature to authenticate")]
    Credentials,
    #[error("{0} is not a public address (loopback, private, link-local, multicast or reserved)")]
    NotPublic(IpAddr),
    #[error("the host name does not resolve")]
    Unresolvable,
}

/// Whether `ip` is an address of the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => public_v4(v4),
            None => public_v6(v6),
        },
    }
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_unspecified()
        || ip.is_documentation()
        || a == 0
        || a >= 240
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 192 && b == 0 && c == 0)) // IETF protocol assignments
}

fn public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    // Forms that carry an IPv4 address: the address they carry decides.
    if s[..6] == [0; 6] {
        // IPv4-compatible `::a.b.c.d` (deprecated; `::` and `::1` fall here too).
        return public_v4(embedded(s[6], s[7]));
    }
    if s[..4] == [0; 4] && s[4] == 0xffff && s[5] == 0 {
        // IPv4-translated `::ffff:0:a.b.c.d`.
        return public_v4(embedded(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        // 6to4: the relay delivers to the IPv4 address in bits 16..48.
        return public_v4(embedded(s[1], s[2]));
    }
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0064 && s[1] == 0xff9b)  // NAT64 to an IPv4 we cannot check
        || (s[0] == 0x2001 && s[1] == 0x0000)  // Teredo: a tunnel to an IPv4 we cannot check
        || (s[0] == 0x2001 && s[1] == 0x0002 && s[2] == 0) // benchmarking
        || (s[0] == 0x0100 && s[1..4] == [0; 3])) // discard-only 100::/64
}

impl Policy {
    fn allows(self, ip: IpAddr) -> bool {
        self.allow_private_networks || is_public(ip)
    }

    /// The URL, if its form is acceptable (scheme, no credentials, no
    /// non-public IP literal). Names are checked by [`resolve`](Self::resolve).
    pub fn parse(self, raw: &str) -> Result<Url, Refused> {
        let url = Url::parse(raw.trim()).map_err(|_| Refused::NotAUrl)?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Refused::Scheme);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refused::Credentials);
        }
        // The address first: it is the graver refusal, and https does not cure it.
        match url.host() {
            None => return Err(Refused::NotAUrl),
            Some(Host::Ipv4(v4)) if !self.allows(IpAddr::V4(v4)) => {
                return Err(Refused::NotPublic(v4.into()));
            }
            Some(Host::Ipv6(v6)) if !self.allows(IpAddr::V6(v6)) => {
                return Err(Refused::NotPublic(v6.into()));
            }
            Some(_) => {}
        }
        if url.scheme() == "http" && !self.allow_http {
            return Err(Refused::PlainHttp);
        }
        Ok(url)
    }

    /// Resolves `host` and keeps only addresses the policy allows; refuses a
    /// name that resolves to nothing allowed.
    pub async fn resolve(self, host: &str, port: u16) -> Result<Vec<SocketAddr>, Refused> {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|_| Refused::Unresolvable)?
            .collect();
        let allowed: Vec<SocketAddr> = addrs
            .iter()
            .copied()
            .filter(|a| self.allows(a.ip()))
            .collect();
        match (allowed.is_empty(), addrs.first()) {
            (false, _) => Ok(allowed),
            (true, Some(first)) => Err(Refused::NotPublic(first.ip())),
            (true, None) => Err(Refused::Unresolvable),
        }
    }

    /// [`parse`](Self::parse), then for a name, [`resolve`](Self::resolve).
    pub async fn check(self, raw: &str) -> Result<Url, Refused> {
        let url = self.parse(raw)?;
        if let Some(Host::Domain(name)) = url.host() {
            self.resolve(name, url.port_or_known_default().unwrap_or(443))
                .await?;
        }
        Ok(url)
    }
}

/// The HTTP client's resolver: the same policy at connect time.
#[derive(Clone, Debug)]
pub struct PolicyResolver(pub Policy);

impl reqwest::dns::Resolve for PolicyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = policy
                .resolve(&host, 0)
                .await
                .map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { Box::new(e) })?;
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_and_internal_addresses_are_told_apart() {
        for internal in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "224.0.0.1",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            // IPv6 forms that embed an internal IPv4 address.
            "::127.0.0.1",
            "::a00:1",
            "::ffff:0:7f00:1",
            "2002:7f00:1::1",
            "2002:a9fe:a9fe::1",
            "2001:0:4136:e378:8000:63bf:80ff:fffe",
            "100::1",
            "64:ff9b::7f00:1",
        ] {
            let ip: IpAddr = internal.parse().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
            assert!(!is_public(ip), "{internal}");
        }
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:1.1.1.1",
            "2002:808:808::1",
        ] {
            let ip: IpAddr = public.parse().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
            assert!(is_public(ip), "{public}");
        }
    }

    #[tokio::test]
    async fn the_default_policy_refuses_internal_targets_and_plain_http() {
        let strict = Policy::default();
        for (url, refused) in [
            (
                "https://127.0.0.1/hook",
                Refused::NotPublic(
                    "127.0.0.1"
                        .parse()
                        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
                ),
            ),
            (
                "https://10.0.0.1/hook",
                Refused::NotPublic(
                    "10.0.0.1"
                        .parse()
                        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
                ),
            ),
            (
                "https://[::1]/hook",
                Refused::NotPublic("::1".parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))),
            ),
            (
                "http://127.0.0.1/hook",
                Refused::NotPublic(
                    "127.0.0.1"
                        .parse()
                        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
                ),
            ),
            (
                "https://[::127.0.0.1]/hook",
                Refused::NotPublic(IpAddr::V6(Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0x7f00, 1))),
            ),
            (
                "https://[::ffff:0:7f00:1]/hook",
                Refused::NotPublic(IpAddr::V6(Ipv6Addr::new(0, 0, 0, 0, 0xffff, 0, 0x7f00, 1))),
            ),
            (
                "https://[2002:7f00:1::1]/hook",
                Refused::NotPublic(IpAddr::V6(Ipv6Addr::new(0x2002, 0x7f00, 1, 0, 0, 0, 0, 1))),
            ),
            ("file:///etc/passwd", Refused::Scheme),
            ("http://example.com/hook", Refused::PlainHttp),
            ("https://user:pw@example.com/", Refused::Credentials),
            ("not a url", Refused::NotAUrl),
        ] {
            assert_eq!(strict.check(url).await.err(), Some(refused), "{url}");
        }
        // A name that resolves to loopback.
        assert!(matches!(
            strict.check("https://localhost/hook").await,
            Err(Refused::NotPublic(_))
        ));
        let open = Policy {
            allow_http: true,
            allow_private_networks: true,
        };
        assert!(open.check("http://127.0.0.1:9/hook").await.is_ok());
    }
}
