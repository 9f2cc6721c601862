//! A host's Infisical client secret (`infisical_identity`, `infisical_client_secret`): what
//! `aegisctl bootstrap` mints beside the host's wrapped SecretID.
//!
//! Infisical binds client secrets to addresses only through the identity's Universal Auth
//! configuration (`clientSecretTrustedIps`, for all of its client secrets; contract §6), not per
//! secret. So the addresses a host's client secret may be used from (default: the host's CIDR)
//! join the identity's `client_secret_trusted_ips` in the Desired phase: `apply` converges them,
//! `plan` shows them, and a bootstrap finds them in place.

use serde_json::Value;

use super::infisical::ORG;
use super::infisical_identities::is_ip_or_cidr;
use super::node::{Loc, Node, Raw};
use super::raw::RawHost;
use super::resolve::Resolver;
use crate::model::{AttrValue, Backend, Desired, HostInfisical, ResourceId};

/// Default lifetime of a minted client secret: long enough for a first boot, short enough that
/// one left unused is dead by the next day.
const DEFAULT_TTL: u64 = 3600;
/// Default use limit: one login, like the single-use SecretID beside it.
const DEFAULT_USES: u64 = 1;

pub(super) fn client_secret(
    r: &mut Resolver,
    host: &str,
    node: &Node,
    h: &RawHost,
    cidrs: &[String],
    desired: &mut Desired,
) -> Option<HostInfisical> {
    let Some(identity) = node.as_str().map(str::to_owned) else {
        r.problem(
            node.loc,
            "`infisical_identity` must name a machine identity",
            None,
        );
        return None;
    };
    let ua = ResourceId::on(Backend::Infisical, ORG, "universal_auth", None, &identity).address();
    let Some(ua_index) = desired.resources.iter().position(|d| d.address == ua) else {
        r.problem(
            node.loc,
            format!("host `{host}` names the Infisical identity `{identity}`, which the topology does not declare with `universal_auth`"),
            format!("declare it under infisical.identities.{identity} with a universal_auth block: its client secrets are minted through Universal Auth"),
        );
        return None;
    };
    let mut ttl = DEFAULT_TTL;
    let mut uses = DEFAULT_USES;
    let mut trusted: Vec<String> = cidrs.to_vec();
    if let Some(cs) = &h.infisical_client_secret {
        let cs_loc = Loc::of(cs);
        if let Some(n) = &cs.value.ttl {
            let secs = match &n.raw {
                Raw::Str(t) => crate::duration::parse(t).ok(),
                Raw::Int(i) => u64::try_from(*i).ok(),
                _ => None,
            };
            match secs {
                Some(s) if s > 0 => ttl = s,
                _ => {
                    r.problem(n.loc, "`ttl` must be a duration such as 1h", "a client secret that never expires would outlive the host's first boot by years: give it a lifetime".to_string());
                    return None;
                }
            }
        }
        if let Some(n) = &cs.value.num_uses_limit {
            match n.raw {
                Raw::Int(i) if i >= 1 => uses = i as u64,
                _ => {
                    r.problem(n.loc, "`num_uses_limit` must be a whole number from 1", "the number of logins the client secret allows (0, unlimited, is not offered for a bootstrap secret)".to_string());
                    return None;
                }
            }
        }
        if let Some(n) = &cs.value.trusted_ips {
            let items: Vec<Option<&str>> = match &n.raw {
                Raw::Str(s) => vec![Some(s.as_str())],
                Raw::List(items) => items.iter().map(Node::as_str).collect(),
                _ => vec![None],
            };
            if items.is_empty() || items.iter().any(|i| !i.is_some_and(is_ip_or_cidr)) {
                let at = r.key_loc(cs_loc, "trusted_ips");
                r.problem(
                    at,
                    "`trusted_ips` must be a list of IP addresses or CIDR blocks",
                    "e.g. [10.0.8.21/32]; by default the host's cidr".to_string(),
                );
                return None;
            }
            trusted = items.into_iter().flatten().map(str::to_owned).collect();
        }
    }
    // The identity's Universal Auth must trust these addresses for client secrets.
    let res = &mut desired.resources[ua_index];
    let entry = res
        .attrs
        .entry("client_secret_trusted_ips".to_owned())
        .or_insert_with(|| AttrValue::Plain(Value::Array(Vec::new())));
    if let AttrValue::Plain(Value::Array(list)) = entry {
        for ip in &trusted {
            if !list.iter().any(|v| v.as_str() == Some(ip)) {
                list.push(Value::String(ip.clone()));
            }
        }
    }
    Some(HostInfisical {
        identity,
        ttl_seconds: ttl,
        num_uses_limit: uses,
        trusted_ips: trusted,
    })
}
