//! What the access history may keep of a client (SPEC §7, "Access history and privacy").

use std::net::IpAddr;

/// How much of a client's IP address the history keeps (`history.ip`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IpPolicy {
    Full,
    /// IPv4 to its /24, IPv6 to its /48.
    Truncated,
    None,
}

impl IpPolicy {
    pub fn apply(self, ip: IpAddr) -> Option<IpAddr> {
        match (self, ip) {
            (Self::Full, ip) => Some(ip),
            (Self::None, _) => None,
            (Self::Truncated, IpAddr::V4(v4)) => {
                let [a, b, c, _] = v4.octets();
                Some(IpAddr::from([a, b, c, 0]))
            }
            (Self::Truncated, IpAddr::V6(v6)) => {
                let s = v6.segments();
                Some(IpAddr::from([s[0], s[1], s[2], 0, 0, 0, 0, 0]))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_the_network_not_the_host() {
        let v4: IpAddr = "203.0.113.77".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let v6: IpAddr = "2001:db8:abcd:12:1:2:3:4"
            .parse()
            .unwrap_or(IpAddr::from([0u16; 8]));
        assert_eq!(IpPolicy::Truncated.apply(v4), "203.0.113.0".parse().ok());
        assert_eq!(
            IpPolicy::Truncated.apply(v6),
            "2001:db8:abcd::".parse().ok()
        );
        assert_eq!(IpPolicy::Full.apply(v4), Some(v4));
        assert_eq!(IpPolicy::None.apply(v6), None);
    }
}
