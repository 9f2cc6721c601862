//! Trusted-IP entries of Universal Auth (contract §5), parsed as upstream's `lib/ip` does:
//! a bare IPv4/IPv6 address or a CIDR block, stored as `{type, ipAddress, prefix?}` with the
//! address kept as sent (not masked to the network) and `prefix` left out for a bare address.
//! The login check matches the caller's address against those entries.

use serde_json::{Value, json};

/// A parsed trusted-IP entry as upstream stores it: `{type, ipAddress, prefix?}`.
#[derive(Clone, Debug, PartialEq)]
pub struct TrustedIp {
    pub v6: bool,
    /// The address as sent (upstream's `extractIPDetails` splits the string, it does not mask it).
    pub address: String,
    pub prefix: Option<u8>,
}

impl TrustedIp {
    pub fn parse(s: &str) -> Option<TrustedIp> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let ip: std::net::IpAddr = addr.parse().ok()?;
        let max = if ip.is_ipv6() { 128 } else { 32 };
        let prefix = match prefix {
            None => None,
            Some(p) if !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()) => {
                let n: u32 = p.parse().ok()?;
                if n > max {
                    return None;
                }
                Some(n as u8)
            }
            Some(_) => return None,
        };
        Some(TrustedIp {
            v6: ip.is_ipv6(),
            address: addr.to_owned(),
            prefix,
        })
    }

    pub fn json(&self) -> Value {
        let mut v =
            json!({"type": if self.v6 { "ipv6" } else { "ipv4" }, "ipAddress": self.address});
        if let Some(p) = self.prefix {
            v["prefix"] = json!(p);
        }
        v
    }

    /// Whether `ip` falls in this entry (a bare IP matches only itself).
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        let Ok(base) = self.address.parse::<std::net::IpAddr>() else {
            return false;
        };
        let (a, b, bits) = match (base, ip) {
            (std::net::IpAddr::V4(x), std::net::IpAddr::V4(y)) => {
                (u128::from(u32::from(x)), u128::from(u32::from(y)), 32u32)
            }
            (std::net::IpAddr::V6(x), std::net::IpAddr::V6(y)) => {
                (u128::from(x), u128::from(y), 128)
            }
            _ => return false,
        };
        let prefix = u32::from(self.prefix.unwrap_or(bits as u8));
        if prefix == 0 {
            return true;
        }
        let shift = bits - prefix;
        (a >> shift) == (b >> shift)
    }
}

pub fn default_trusted_ips() -> Vec<TrustedIp> {
    ["0.0.0.0/0", "::/0"]
        .iter()
        .filter_map(|s| TrustedIp::parse(s))
        .collect()
}
