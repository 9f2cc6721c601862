//! The organization's machine identities of the `infisical:` block (scope `org`): each
//! identity (its organization role), its Universal Auth configuration (token lifetimes, use
//! limits, trusted IPs, lockout) and its project memberships (`projects: {SLUG: role}`).

use serde_json::Value;
use serde_saphyr::Spanned;

use super::infisical::{ORG, id, push, typed};
use super::node::{Loc, Node, Raw};
use super::raw_infisical::RawIdentity;
use super::resolve::{Resolver, check_name};
use crate::model::{AttrValue, Desired};

pub(super) fn identity(
    r: &mut Resolver,
    name: &str,
    i: &Spanned<RawIdentity>,
    desired: &mut Desired,
) {
    let loc = r.key_loc(Loc::of(i), name);
    if name.trim().is_empty() || name.len() > 64 || !check_name(r, loc, "identity name", name) {
        if name.trim().is_empty() || name.len() > 64 {
            r.problem(loc, "an identity's name is 1 to 64 characters", None);
        }
        return;
    }
    let raw = &i.value;
    let mut attrs = Vec::new();
    if let Some(n) = &raw.role
        && let Some(v) = typed(r, n, "role", "text")
    {
        attrs.push(("role", v));
    }
    if let Some(n) = &raw.has_delete_protection
        && let Some(v) = typed(r, n, "has_delete_protection", "boolean")
    {
        attrs.push(("has_delete_protection", v));
    }
    let identity_id = id(ORG, "identity", None, name);
    let identity_addr = identity_id.address();
    push(desired, identity_id, attrs, loc, Vec::new());
    if let Some(ua) = &raw.universal_auth {
        let at = r.key_loc(Loc::of(ua), "universal_auth");
        let mut attrs = Vec::new();
        for (field, node) in ua.value.fields() {
            let Some(n) = node else { continue };
            let value = match field {
                "access_token_ttl" | "access_token_max_ttl" | "access_token_period" => {
                    duration(r, n, field)
                }
                "client_secret_trusted_ips" | "access_token_trusted_ips" => ips(r, n, field),
                "lockout_enabled" => typed(r, n, field, "boolean"),
                _ => typed(r, n, field, "count"),
            };
            if let Some(v) = value {
                attrs.push((field, v));
            }
        }
        push(
            desired,
            id(ORG, "universal_auth", None, name),
            attrs,
            at,
            vec![identity_addr.clone()],
        );
    }
    for (project, roles) in &raw.projects {
        let at = r.key_loc(roles.loc, project);
        let list: Vec<&Node> = match &roles.raw {
            Raw::Str(_) => vec![roles],
            Raw::List(items) => items.iter().collect(),
            _ => Vec::new(),
        };
        let names: Vec<Value> = list
            .iter()
            .filter_map(|n| n.as_str())
            .map(|s| Value::String(s.to_owned()))
            .collect();
        if names.is_empty() || names.len() != list.len() {
            r.problem(
                roles.loc,
                format!("identity `{name}`: the role in project `{project}` must be a role slug or a list of them"),
                "e.g. homelab-apps: viewer (built-in project roles: admin, member, viewer, no-access)".to_string(),
            );
            continue;
        }
        let mut deps = vec![identity_addr.clone()];
        let project_addr = id(project, "project", None, project).address();
        if desired.resources.iter().any(|d| d.address == project_addr) {
            deps.push(project_addr);
        }
        push(
            desired,
            id(project, "membership", None, name),
            vec![("roles", AttrValue::Plain(Value::Array(names)))],
            at,
            deps,
        );
    }
}

/// A duration: `1h`, `90s`, or a number of seconds; kept as written (the kind sends seconds).
fn duration(r: &mut Resolver, n: &Node, field: &str) -> Option<AttrValue> {
    let ok = match &n.raw {
        Raw::Str(t) => crate::duration::parse(t).is_ok(),
        Raw::Int(i) => *i >= 0,
        _ => false,
    };
    if !ok {
        r.problem(
            n.loc,
            format!("`{field}` must be a duration"),
            "write a duration such as 90s, 15m, 1h, 24h, or a number of seconds".to_string(),
        );
        return None;
    }
    Some(AttrValue::Plain(match &n.raw {
        Raw::Str(t) => Value::String(t.clone()),
        Raw::Int(i) => Value::from(*i),
        _ => Value::Null,
    }))
}

/// A list of IP addresses or CIDR blocks.
fn ips(r: &mut Resolver, n: &Node, field: &str) -> Option<AttrValue> {
    let Raw::List(items) = &n.raw else {
        r.problem(
            n.loc,
            format!("`{field}` must be a list of IP addresses or CIDR blocks"),
            "e.g. [10.0.8.0/24] or [0.0.0.0/0, ::/0] (everywhere)".to_string(),
        );
        return None;
    };
    let mut out = Vec::new();
    for item in items {
        match item.as_str().filter(|s| is_ip_or_cidr(s)) {
            Some(s) => out.push(Value::String(s.to_owned())),
            None => {
                r.problem(
                    item.loc,
                    format!("an entry of `{field}` is not an IP address or a CIDR block"),
                    "write e.g. 10.0.8.21, 10.0.8.0/24 or 2001:db8::/32".to_string(),
                );
                return None;
            }
        }
    }
    Some(AttrValue::Plain(Value::Array(out)))
}

/// An IPv4 or IPv6 address, with or without a prefix length that fits it.
pub(super) fn is_ip_or_cidr(s: &str) -> bool {
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let max = match addr.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => 32,
        Ok(std::net::IpAddr::V6(_)) => 128,
        Err(_) => return false,
    };
    prefix.is_none_or(|p| p.parse::<u8>().is_ok_and(|p| p <= max))
}
