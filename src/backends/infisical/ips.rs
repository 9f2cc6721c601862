//! Trusted IPs as Infisical takes them and answers them, made comparable.
//!
//! Requests carry `{"ipAddress": "10.0.8.0/24"}` (a bare IP or a CIDR); answers carry the parsed
//! form `{"type": "ipv4", "ipAddress": "10.0.8.0", "prefix": 24}`, without `prefix` when a bare
//! IP was sent (contract §5). The file writes CIDR strings. Both sides become canonical CIDR
//! strings (a bare IPv4 is `/32`, a bare IPv6 `/128`, IPv6 in its canonical text), sorted and
//! deduplicated, so that they compare as the sets they are.

use std::net::IpAddr;

use serde_json::{Value, json};

/// One entry (a string, or an answer's object) as a canonical CIDR; `None` when it is not one
/// (left for the server to refuse with its own words).
pub fn canonical(entry: &Value) -> Option<String> {
    let (ip, prefix) = match entry {
        Value::String(s) => match s.trim().split_once('/') {
            Some((ip, p)) => (ip.trim().to_owned(), Some(p.trim().parse::<u8>().ok()?)),
            None => (s.trim().to_owned(), None),
        },
        Value::Object(m) => {
            let ip = m.get("ipAddress")?.as_str()?;
            // An answer may also carry the prefix inside `ipAddress` (a request-shaped item).
            if ip.contains('/') {
                return canonical(&Value::String(ip.to_owned()));
            }
            let prefix = match m.get("prefix") {
                Some(Value::Number(n)) => Some(u8::try_from(n.as_u64()?).ok()?),
                Some(Value::String(s)) => Some(s.parse().ok()?),
                _ => None,
            };
            (ip.to_owned(), prefix)
        }
        _ => return None,
    };
    let addr: IpAddr = ip.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = prefix.unwrap_or(max);
    if prefix > max {
        return None;
    }
    Some(format!("{addr}/{prefix}"))
}

/// A list of entries as a sorted, deduplicated list of canonical CIDR strings; an entry that
/// does not parse is kept as written, so that the difference still shows.
pub fn normalise(list: &Value) -> Value {
    let Value::Array(items) = list else {
        return list.clone();
    };
    let mut out: Vec<String> = items
        .iter()
        .map(|v| {
            canonical(v).unwrap_or_else(|| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
        })
        .collect();
    out.sort();
    out.dedup();
    Value::Array(out.into_iter().map(Value::String).collect())
}

/// A declared list as the request's items: `[{"ipAddress": "..."}]`.
pub fn request_items(list: &Value) -> Value {
    let items = match list {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    };
    Value::Array(
        items
            .iter()
            .map(|v| match v {
                Value::String(s) => json!({"ipAddress": s.trim()}),
                other => other.clone(),
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_shapes_become_the_same_sorted_set() {
        let answered = json!([
            {"type": "ipv6", "prefix": 0, "ipAddress": "::"},
            {"type": "ipv4", "prefix": 0, "ipAddress": "0.0.0.0"},
            {"type": "ipv4", "ipAddress": "10.0.8.7"},
            {"type": "ipv4", "prefix": 24, "ipAddress": "10.0.8.0"}
        ]);
        let declared = json!([
            "10.0.8.0/24",
            "::/0",
            "10.0.8.7",
            "0.0.0.0/0",
            "10.0.8.7/32"
        ]);
        assert_eq!(normalise(&answered), normalise(&declared));
        assert_eq!(
            normalise(&declared),
            json!(["0.0.0.0/0", "10.0.8.0/24", "10.0.8.7/32", "::/0"])
        );
    }

    #[test]
    fn ipv6_is_canonical_and_bare_ips_are_hosts() {
        assert_eq!(
            canonical(&json!("2001:0db8:0000::0001")).as_deref(),
            Some("2001:db8::1/128")
        );
        assert_eq!(
            canonical(&json!({"type": "ipv6", "ipAddress": "2001:DB8::", "prefix": 32})).as_deref(),
            Some("2001:db8::/32")
        );
        assert_eq!(
            canonical(&json!("10.0.0.1")).as_deref(),
            Some("10.0.0.1/32")
        );
        assert_eq!(canonical(&json!("10.0.0.1/33")), None);
        assert_eq!(canonical(&json!("nope")), None);
        assert_eq!(normalise(&json!(["nope"])), json!(["nope"]));
        assert_eq!(
            request_items(&json!(["10.0.8.0/24"])),
            json!([{"ipAddress": "10.0.8.0/24"}])
        );
    }
}
