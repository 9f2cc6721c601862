//! The `hosts:` block: what `aegisctl bootstrap` renders for.

use super::node::{Loc, Raw};
use super::raw::RawHost;
use super::resolve::Resolver;
use crate::duration;
use crate::model::{Desired, Host, HostKind, ResourceId};

/// A host of `hosts:`; its AppRole role must be declared (unless `external: true`).
pub(super) fn hosts(r: &mut Resolver, name: &str, h: &RawHost, desired: &mut Desired) {
    // A host's name becomes a file name (HOST.user-data.yaml in --out-dir) and a ledger key:
    // `../x` or `a/b` would write outside the directory the operator chose.
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if !plain {
        let at = r.key_loc(h.kind.loc, name);
        r.problem(
            at,
            format!(
                "host `{}`: a host name is letters, digits, `.`, `-` and `_`, not starting with `.`",
                name.escape_debug()
            ),
            "the name becomes the file name of the rendered artefact and a key in the ledger: rename the host".to_string(),
        );
        return;
    }
    let kind = match h.kind.as_str() {
        Some("lxc") => HostKind::Lxc,
        Some("agent") => HostKind::Agent,
        _ => {
            r.problem(
                h.kind.loc,
                format!("host `{name}`: `kind` must be `lxc` or `agent`"),
                "lxc renders cloud-init user-data; agent renders a launcher env file".to_string(),
            );
            return;
        }
    };
    let namespace = match &h.namespace {
        Some(n) => match n.as_str() {
            Some(s) => s.trim_matches('/').to_owned(),
            None => {
                r.problem(
                    n.loc,
                    "`namespace` must be a namespace path such as `tenant-acme`",
                    None,
                );
                return;
            }
        },
        None => String::new(),
    };
    let Some(approle) = h.approle.as_str() else {
        r.problem(
            h.approle.loc,
            "`approle` must name an AppRole role: ROLE or MOUNT/ROLE",
            None,
        );
        return;
    };
    let (mount, role) = approle.rsplit_once('/').unwrap_or(("approle", approle));
    let declared = desired
        .resources
        .iter()
        .any(|res| res.id == ResourceId::new(&namespace, "approle_role", Some(mount), role));
    if !declared && !h.external {
        let ns = if namespace.is_empty() {
            "the root namespace".to_owned()
        } else {
            format!("namespace {namespace}")
        };
        r.problem(
            h.approle.loc,
            format!("host `{name}` names the AppRole role `{mount}/{role}`, which the topology does not declare in {ns}"),
            "declare it under openbao.auth.MOUNT.roles, or set `external: true` on the host if it is managed elsewhere".to_string(),
        );
    }
    let cidrs: Vec<String> = match &h.cidr.raw {
        Raw::Str(s) => vec![s.clone()],
        Raw::List(items) => items
            .iter()
            .filter_map(|n| n.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    if cidrs.is_empty() || cidrs.iter().any(|c| !valid_cidr(c)) {
        r.problem(
            h.cidr.loc,
            format!(
                "host `{name}`: `cidr` must be a CIDR such as 10.0.8.21/32 (or a list of them)"
            ),
            "the SecretID and its tokens are bound to it: give the host's own address, /32"
                .to_string(),
        );
        return;
    }
    let wrap_ttl = match &h.wrap_ttl {
        Some(n) => {
            let secs = match &n.raw {
                Raw::Str(t) => duration::parse(t).ok(),
                Raw::Int(i) => u64::try_from(*i).ok(),
                _ => None,
            };
            match secs {
                Some(secs) if secs > 0 => duration::format(secs),
                _ => {
                    r.problem(
                        n.loc,
                        "`wrap_ttl` must be a duration such as 5m",
                        "keep it short: the wrapped SecretID only has to survive until the container first boots".to_string(),
                    );
                    return;
                }
            }
        }
        None => "5m".to_owned(),
    };
    let template = match &h.template {
        Some(n) => match n.as_str() {
            Some(t) => {
                let path = r.dir.join(t.strip_prefix("file:").unwrap_or(t));
                if !path.is_file() {
                    r.problem(
                        n.loc,
                        format!("host `{name}`: template {} is not a file", path.display()),
                        "paths are relative to the topology file".to_string(),
                    );
                    return;
                }
                Some(path)
            }
            None => {
                r.problem(n.loc, "`template` must be a path", None);
                return;
            }
        },
        None => None,
    };
    let infisical = match &h.infisical_identity {
        Some(node) => {
            let Some(i) = super::infisical_hosts::client_secret(r, name, node, h, &cidrs, desired)
            else {
                return;
            };
            Some(i)
        }
        None => {
            if let Some(cs) = &h.infisical_client_secret {
                let at = r.key_loc(Loc::of(cs), "infisical_client_secret");
                r.problem(
                    at,
                    format!("host `{name}`: `infisical_client_secret` without `infisical_identity`"),
                    "name the machine identity the client secret is minted for: infisical_identity: NAME".to_string(),
                );
                return;
            }
            None
        }
    };
    desired.hosts.push(Host {
        name: name.to_owned(),
        kind,
        namespace,
        approle_mount: mount.to_owned(),
        role: role.to_owned(),
        cidrs,
        wrap_ttl,
        template,
        infisical,
    });
}

/// An IPv4 or IPv6 CIDR (address/prefix).
pub(super) fn valid_cidr(c: &str) -> bool {
    let Some((addr, prefix)) = c.split_once('/') else {
        return false;
    };
    let Ok(prefix) = prefix.parse::<u8>() else {
        return false;
    };
    match addr.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => prefix <= 32,
        Ok(std::net::IpAddr::V6(_)) => prefix <= 128,
        Err(_) => false,
    }
}
