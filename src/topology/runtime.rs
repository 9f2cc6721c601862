//! The `runtime:` block → [`RuntimeSpec`]: the login, the scopes mount, the audit targets and one
//! profile, for `aegisctl run` and `aegisctl env`.
//!
//! Two readings. Loading the whole topology (`validate`, `plan`) only checks the block's shape:
//! the profiles' `env:` variables and the login's credentials exist on the runtime host, not on
//! the operator's. Loading for a run resolves the login and the chosen profile's local values
//! (`env:`, `file:`, `sops:`, literals), so a missing variable is reported at its line before any
//! request; OpenBao and Infisical references stay references, read at run time.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_saphyr::Spanned;

use super::node::{Loc, Node};
use super::raw::{RawOpenBao, RawTopology};
use super::raw_runtime::{RawProfile, RawRuntime};
use super::resolve::{Resolver, check_name};
use crate::runtime::profile::{
    AuditTarget, Entry, Profile, Reference, RuntimeSpec, Scopes, is_withheld, valid_var_name,
};
use crate::sensitive::Sensitive;

/// Shape checks of the whole block (every profile), resolving nothing.
pub(super) fn check(r: &mut Resolver, rt: &Spanned<RawRuntime>) {
    if let Some(login) = &rt.value.login {
        super::runtime_login::login_shape(r, login);
    }
    if let Some(s) = &rt.value.scopes {
        mount_name(r, &s.value.mount, "runtime.scopes.mount");
    }
    for (name, profile) in &rt.value.profiles {
        for (var, node) in &profile.value.env {
            entry(r, name, var, node, &BTreeSet::new(), false);
        }
    }
}

/// Resolves the block for one profile; `namespace` (from `--namespace`) overrides the profile's.
pub(super) fn spec(
    r: &mut Resolver,
    raw: &RawTopology,
    file: &Path,
    profile: &str,
    namespace: Option<&str>,
) -> Option<RuntimeSpec> {
    let Some(rt) = &raw.runtime else {
        r.problem(
            Loc::of(&raw.version),
            "the topology has no `runtime:` block",
            "declare runtime.profiles (and runtime.login) as spec/topology.md shows".to_string(),
        );
        return None;
    };
    let Some((_, p)) = rt
        .value
        .profiles
        .iter()
        .find(|(n, _)| n.as_str() == profile)
    else {
        let known: Vec<&str> = rt.value.profiles.keys().map(String::as_str).collect();
        r.problem(
            Loc::of(rt),
            format!(
                "the runtime block has no profile `{}`",
                profile.escape_debug()
            ),
            format!("profiles declared: {}", list_or_none(&known)),
        );
        return None;
    };
    let src = r.src;
    let mut desired = super::resolve::empty_desired(file, String::new(), src);
    if let Some(ob) = &raw.openbao {
        super::openbao::endpoint(r, &ob.value, &mut desired);
    }
    let mut own_vars = BTreeSet::new();
    let login =
        super::runtime_login::login(r, rt, raw.openbao.as_ref().map(|o| &o.value), &mut own_vars)?;
    let profile_ns = match namespace {
        Some(ns) => ns.trim_matches('/').to_owned(),
        None => p
            .value
            .namespace
            .as_ref()
            .and_then(|n| namespace_of(r, n, "namespace"))
            .unwrap_or_default(),
    };
    let entries = profile_entries(r, profile, &p.value, &own_vars);
    let uses_infisical = entries
        .iter()
        .any(|e| matches!(e.reference, Reference::Infisical { .. }));
    if uses_infisical {
        match &raw.infisical {
            Some(inf) => {
                super::infisical::connection(r, inf, &mut desired);
                for n in [&inf.value.auth.value.client_id, &inf.value.auth.value.client_secret] {
                    if let Some(var) = n.as_str().and_then(|t| t.strip_prefix("env:")) {
                        own_vars.insert(var.to_owned());
                    }
                }
            }
            None => r.problem(
                Loc::of(p),
                format!("profile `{profile}` reads infisical: references, and the topology has no `infisical:` block"),
                "add the infisical block (url, auth, organization)".to_string(),
            ),
        }
    }
    let scopes = rt.value.scopes.as_ref().and_then(|s| {
        let mount = mount_name(r, &s.value.mount, "runtime.scopes.mount")?;
        let namespace = s
            .value
            .namespace
            .as_ref()
            .and_then(|n| namespace_of(r, n, "runtime.scopes.namespace"));
        Some(Scopes { mount, namespace })
    });
    let audit = audit_target(r, Some(rt), file, &desired.ledger_mount)?;
    if !r.problems.is_empty() {
        return None;
    }
    Some(RuntimeSpec {
        file: file.to_path_buf(),
        conn: desired.conn,
        infisical: desired.infisical,
        login,
        scopes,
        audit,
        profile: Profile {
            name: profile.to_owned(),
            namespace: profile_ns,
            entries,
        },
        kv_mounts: raw.openbao.as_ref().map(kv_mounts).unwrap_or_default(),
        own_vars,
    })
}

fn list_or_none(names: &[&str]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

fn profile_entries(
    r: &mut Resolver,
    profile: &str,
    p: &RawProfile,
    own: &BTreeSet<String>,
) -> Vec<Entry> {
    let mut out = Vec::new();
    for (var, node) in &p.env {
        if let Some(e) = entry(r, profile, var, node, own, true) {
            out.push(e);
        }
    }
    out
}

/// One variable: its reference checked (and, with `resolve`, a local value read). `own` are
/// the variables the login reads, which no child receives.
fn entry(
    r: &mut Resolver,
    profile: &str,
    var: &str,
    node: &Node,
    own: &BTreeSet<String>,
    resolve: bool,
) -> Option<Entry> {
    let field = format!("runtime.profiles.{profile}.env.{var}");
    if is_withheld(var, own) {
        r.problem(
            node.loc,
            format!("`{var}` is a variable aegisctl takes its own credentials from: a process started by aegisctl never receives it"),
            "choose another name (no OpenBao token, role ID, secret ID or age key reaches the child)".to_string(),
        );
        return None;
    }
    if !valid_var_name(var) {
        r.problem(
            node.loc,
            format!(
                "`{}` is not an environment variable name",
                var.escape_debug()
            ),
            "use letters, digits and `_`, not starting with a digit".to_string(),
        );
        return None;
    }
    let at = format!("{}:{}:{}", r.src.name, node.loc.line, node.loc.column);
    let Some(text) = node.as_str() else {
        r.problem(
            node.loc,
            format!(
                "`{field}` must be a string (a reference or a literal), found {}",
                node.shape()
            ),
            None,
        );
        return None;
    };
    let reference = match reference(text) {
        Ok(reference) => reference,
        Err(help) => {
            r.problem(
                node.loc,
                format!("`{field}` has a malformed reference"),
                help,
            );
            return None;
        }
    };
    if let Reference::Vault { path, .. } | Reference::Lease { path, .. } = &reference
        && !check_name(r, node.loc, "the path", path)
    {
        return None;
    }
    let is_local = reference == Reference::Local;
    let source = if is_local
        && !["env:", "file:", "sops:"]
            .iter()
            .any(|p| text.starts_with(p))
    {
        "literal".to_owned()
    } else {
        text.to_owned()
    };
    let value = if is_local && resolve {
        Some(Sensitive::new(r.string(node, &field, true)?.0))
    } else {
        None
    };
    Some(Entry {
        name: var.to_owned(),
        reference,
        source,
        value,
        at,
    })
}

/// The reference a profile value is, or what to write instead.
fn reference(text: &str) -> Result<Reference, String> {
    if let Some(spec) = text.strip_prefix("vault:") {
        return match spec.rsplit_once('#') {
            Some((path, key)) if path.trim_matches('/').contains('/') && !key.is_empty() => {
                Ok(Reference::Vault {
                    path: path.trim_matches('/').to_owned(),
                    key: key.to_owned(),
                })
            }
            _ => Err(
                "write vault:MOUNT/PATH#key, e.g. vault:aegis-system/tools/search-api-key#value"
                    .into(),
            ),
        };
    }
    if let Some(spec) = text.strip_prefix("lease:") {
        let (path, field) = match spec.split_once('#') {
            Some((p, f)) => (p, Some(f)),
            None => (spec, None),
        };
        let path = path.trim_matches('/');
        if !path.contains('/') || field.is_some_and(str::is_empty) {
            return Err(
                "write lease:MOUNT/PATH[#field], e.g. lease:database/creds/agent-role#username"
                    .into(),
            );
        }
        return Ok(Reference::Lease {
            path: path.to_owned(),
            field: field.map(str::to_owned),
        });
    }
    if let Some(spec) = text.strip_prefix("infisical:") {
        let parts: Vec<&str> = spec.split('/').collect();
        if parts.len() < 3 || parts.iter().any(|p| p.is_empty()) {
            return Err(
                "write infisical:PROJECT/ENV/NAME or infisical:PROJECT/ENV/FOLDER/NAME".into(),
            );
        }
        let (name, rest) = parts.split_last().ok_or_else(String::new)?;
        return Ok(Reference::Infisical {
            project: rest[0].to_owned(),
            env: rest[1].to_owned(),
            folder: format!("/{}", rest[2..].join("/")),
            name: (*name).to_owned(),
        });
    }
    for other in ["keycloak:", "json:"] {
        if text.starts_with(other) {
            return Err(format!(
                "{other} references serve resource fields, not runtime profiles: use vault:, lease:, infisical:, env:, file: or sops:"
            ));
        }
    }
    Ok(Reference::Local)
}

pub(super) fn mount_name(r: &mut Resolver, node: &Node, what: &str) -> Option<String> {
    let Some(t) = node.as_str() else {
        r.problem(node.loc, format!("`{what}` must be a mount path"), None);
        return None;
    };
    let m = t.trim_matches('/');
    (!m.is_empty() && check_name(r, node.loc, &format!("`{what}`"), m)).then(|| m.to_owned())
}

pub(super) fn namespace_of(r: &mut Resolver, node: &Node, what: &str) -> Option<String> {
    let t = node.as_str()?.trim_matches('/');
    if t.is_empty() {
        return Some(String::new());
    }
    check_name(r, node.loc, &format!("`{what}`"), t).then(|| t.to_owned())
}

pub(super) fn audit_target(
    r: &mut Resolver,
    rt: Option<&Spanned<RawRuntime>>,
    file: &Path,
    ledger: &str,
) -> Option<AuditTarget> {
    let dir = file.parent().unwrap_or(Path::new("."));
    let a = rt.and_then(|rt| rt.value.audit.as_ref()).map(|a| &a.value);
    let local = match a.and_then(|a| a.file.as_ref()) {
        Some(n) => dir.join(n.as_str().unwrap_or("runtime-audit.jsonl")),
        None => dir.join("runtime-audit.jsonl"),
    };
    let (mount, prefix) = match a.and_then(|a| a.openbao.as_ref()) {
        Some(n) => {
            let full = mount_name(r, n, "runtime.audit.openbao")?;
            match full.split_once('/') {
                Some((m, p)) => (m.to_owned(), p.to_owned()),
                None => (full, String::new()),
            }
        }
        None => (ledger.to_owned(), "runtime-audit".to_owned()),
    };
    let namespace = a
        .and_then(|a| a.namespace.as_ref())
        .and_then(|n| namespace_of(r, n, "runtime.audit.namespace"))
        .unwrap_or_default();
    Some(AuditTarget {
        file: local,
        mount,
        prefix,
        namespace,
    })
}

/// The KV v2 mounts the file declares, by namespace path.
fn kv_mounts(ob: &Spanned<RawOpenBao>) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    walk(&ob.value.blocks(), "", &mut out);
    out
}

fn walk(b: &super::raw::Blocks, ns: &str, out: &mut BTreeMap<String, Vec<String>>) {
    for (path, m) in b.secrets {
        let kind = m.value.kind.as_ref().and_then(|k| k.as_str()).unwrap_or("");
        let v2_option = m.value.options.as_ref().is_some_and(|o| {
            o.value.get("version").is_some_and(|v| {
                v.as_str() == Some("2") || matches!(v.raw, super::node::Raw::Int(2))
            })
        });
        if kind == "kv-v2" || (kind == "kv" && v2_option) {
            out.entry(ns.to_owned())
                .or_default()
                .push(path.trim_matches('/').to_owned());
        }
    }
    for (child, n) in b.namespaces {
        let path = if ns.is_empty() {
            child.trim_matches('/').to_owned()
        } else {
            format!("{ns}/{}", child.trim_matches('/'))
        };
        walk(&n.value.blocks(), &path, out);
    }
}

#[cfg(test)]
#[path = "runtime_tests.rs"]
mod tests;
