//! The `tenants:` block: each slug becomes an OpenBao namespace `tenant-{slug}` with the
//! `openbao` body and a Keycloak realm `tenant-{slug}` with the `keycloak` body (inline, or
//! `file:` of a realm template), both ordinary objects of their backends from then on.
//!
//! The templates are re-read per tenant as text: the body's own lines of the topology (every
//! other line blanked, so line numbers stay those of the file) or the realm template's, with
//! `{{ slug }}`, `{{ realm }}`/`{{ namespace }}` (`tenant-{slug}`) and `{{ keycloak_url }}`
//! filled in, then parsed with the same strict parser as any namespace body or realm file. So
//! a placeholder works in any string — a name, a policy, an `env:` or `sops:` path — and a
//! problem in the template is reported once, at its line, for the first tenant that shows it.
//!
//! The pairing is wired, not just named: a tenant's realm objects are listed among the realms
//! drift and prune look into, its confidential clients' secrets go to the tenant's own
//! namespace (the keymaster), and every object of the namespace that names the realm's URL
//! (an OIDC/JWT auth configuration's discovery URL) waits for the realm to exist.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_saphyr::Spanned;

use super::error::Source;
use super::node::{Loc, Node, Raw};
use super::raw::{RawNamespace, RawTenants, RawTopology};
use super::resolve::Resolver;
use crate::model::{AttrValue, Backend, Desired, ResourceId};

/// A slug's limits: `tenant-{slug}` must be a DNS label (63 characters at most).
const MAX_SLUG: usize = 63 - "tenant-".len();

pub(super) fn tenants(
    r: &mut Resolver,
    t: &Spanned<RawTenants>,
    raw: &RawTopology,
    original: &str,
    desired: &mut Desired,
) {
    let block = &t.value;
    let Some(slugs) = slugs(r, &block.slugs, raw, desired) else {
        return;
    };
    if let Some(ns) = block
        .client_secrets
        .as_ref()
        .and_then(|cs| cs.value.namespace.as_ref())
    {
        r.problem(
            ns.loc,
            "a tenant's client secrets go to its own namespace: `tenants.client_secrets` takes no `namespace`",
            "remove it: each realm tenant-{slug} writes into namespace tenant-{slug}".to_string(),
        );
        return;
    }
    if block.keycloak.is_some() && desired.keycloak.is_none() {
        let at = r.key_loc(Loc::of(t), "keycloak");
        r.problem(
            at,
            "`tenants.keycloak` needs the `keycloak:` block (url, admin) to reach Keycloak",
            "declare keycloak: with url and admin, or leave the realm template out".to_string(),
        );
        return;
    }
    let keycloak_url = desired
        .keycloak
        .as_ref()
        .map(|k| k.url.clone())
        .unwrap_or_default();
    let ns_template = block
        .openbao
        .as_ref()
        .map(|n| (n, body_lines(r, original, n, "openbao")));
    let realm_template = block
        .keycloak
        .as_ref()
        .map(|n| realm_source(r, original, n));
    for (slug, at) in &slugs {
        let name = format!("tenant-{slug}");
        let fill = |text: &str| {
            text.replace("{{ slug }}", slug)
                .replace("{{slug}}", slug)
                .replace("{{ realm }}", &name)
                .replace("{{ namespace }}", &name)
                .replace("{{ keycloak_url }}", &keycloak_url)
        };
        let before = r.problems.len();
        let first = desired.resources.len();
        if let Some((node, template)) = &ns_template {
            namespace(r, &fill(template), slug, node.loc, desired);
        } else {
            // No body: the namespace alone.
            let res = crate::model::DesiredResource::new(
                ResourceId::new("", "namespace", None, &name),
                Default::default(),
            );
            desired.resources.push(res);
        }
        if let Some(Some(template)) = &realm_template {
            realm(r, &fill(&template.text), template, slug, *at, raw, desired);
        }
        for res in &mut desired.resources[first..] {
            if res.loc.is_none() {
                res.loc = Some(*at);
            }
        }
        wire_pairing(desired, first, &name);
        if r.problems.len() > before {
            // The same template fails the same way for every tenant: once is enough.
            break;
        }
    }
}

/// The slugs, checked: DNS-label-like, unique, and `tenant-{slug}` free in both backends.
fn slugs(
    r: &mut Resolver,
    node: &Node,
    raw: &RawTopology,
    desired: &Desired,
) -> Option<Vec<(String, Loc)>> {
    let Raw::List(items) = &node.raw else {
        r.problem(
            node.loc,
            "`tenants.slugs` must be a list of slugs",
            "e.g. slugs: [acme, enterprise-b]".to_string(),
        );
        return None;
    };
    let declared_ns: BTreeSet<&String> = raw
        .openbao
        .iter()
        .flat_map(|o| o.value.namespaces.keys())
        .collect();
    let declared_realms: BTreeSet<&String> =
        desired.keycloak.iter().flat_map(|k| &k.realms).collect();
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for item in items {
        let Some(slug) = item.as_str() else {
            r.problem(item.loc, "a tenant slug must be a string", None);
            continue;
        };
        let label = !slug.is_empty()
            && slug.len() <= MAX_SLUG
            && slug
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !slug.starts_with('-')
            && !slug.ends_with('-');
        let name = format!("tenant-{slug}");
        let problem = if !label {
            Some(format!(
                "`{}` is not a tenant slug: lowercase letters, digits and inner hyphens, at most {MAX_SLUG} characters",
                slug.escape_debug()
            ))
        } else if !seen.insert(slug.to_owned()) {
            Some(format!("the tenant `{slug}` is listed twice"))
        } else if declared_ns.contains(&name) {
            Some(format!(
                "the tenant `{slug}` would be namespace `{name}`, which openbao.namespaces declares already"
            ))
        } else if declared_realms.contains(&name) {
            Some(format!(
                "the tenant `{slug}` would be realm `{name}`, which a realm file of keycloak.realms declares already"
            ))
        } else {
            None
        };
        match problem {
            Some(message) => r.problem(
                item.loc,
                message,
                "a slug names namespace and realm tenant-{slug}: keep each slug once, and declare a tenant's objects in the templates".to_string(),
            ),
            None => out.push((slug.to_owned(), item.loc)),
        }
    }
    (r.problems.is_empty()).then_some(out)
}

/// The topology's text with every line blanked but those of the body under `key` (and on the
/// key's own line, what follows `key:`): a document of the body alone whose line numbers are
/// the file's.
fn body_lines(r: &Resolver, original: &str, node: &Node, key: &str) -> String {
    let key_at = r.key_loc(node.loc, key);
    let key_line = key_at.line as usize;
    let lines: Vec<&str> = original.split('\n').collect();
    let indent_of = |l: &str| l.len() - l.trim_start().len();
    let key_indent = lines
        .get(key_line.saturating_sub(1))
        .map(|l| indent_of(l))
        .unwrap_or(0);
    let mut out = Vec::with_capacity(lines.len());
    let mut inside = false;
    for (i, line) in lines.iter().enumerate() {
        let n = i + 1;
        if n == key_line {
            inside = true;
            // `  openbao: { ... }`: keep what follows the colon, at its column.
            let cut = key_at.column as usize - 1 + key.len() + 1;
            let rest = line.get(cut..).unwrap_or("");
            out.push(format!("{}{rest}", " ".repeat(cut.min(line.len()))));
            continue;
        }
        if inside {
            let t = line.trim_start();
            let ends = !t.is_empty() && !t.starts_with('#') && indent_of(line) <= key_indent;
            if ends {
                inside = false;
            }
        }
        out.push(if inside {
            (*line).to_owned()
        } else {
            String::new()
        });
    }
    out.join("\n")
}

/// A realm template: its text, the name diagnostics give it, and what its `file:` references
/// are relative to.
struct RealmTemplate {
    text: String,
    name: String,
    path: std::path::PathBuf,
}

fn realm_source(r: &mut Resolver, original: &str, node: &Node) -> Option<RealmTemplate> {
    match node.as_str() {
        Some(t) => {
            let rel = t.strip_prefix("file:").unwrap_or(t);
            let path = r.dir.join(rel);
            match std::fs::read_to_string(&path) {
                Ok(text) => Some(RealmTemplate {
                    text,
                    name: path.display().to_string(),
                    path,
                }),
                Err(e) => {
                    r.problem(
                        node.loc,
                        format!("cannot read the realm template {}: {e}", path.display()),
                        "write file:../realms/tenant.yaml.j2 (relative to the topology), or the realm body inline".to_string(),
                    );
                    None
                }
            }
        }
        None => Some(RealmTemplate {
            text: body_lines(r, original, node, "keycloak"),
            name: r.src.name.clone(),
            // Any file of the topology's directory: `file:` references of an inline body are
            // relative to the topology (`src.name` may itself be relative to the working
            // directory, and joined to `dir` it would point one directory too deep).
            path: r.dir.join("tenants.keycloak"),
        }),
    }
}

/// One tenant's namespace, from the filled-in body.
fn namespace(r: &mut Resolver, text: &str, slug: &str, at: Loc, desired: &mut Desired) {
    let src = Source {
        name: format!("{} (tenant {slug})", r.src.name),
        text: Arc::new(super::redact::redact(text)),
    };
    let body: Spanned<RawNamespace> = match super::parse(text, &src, r.env) {
        Ok(b) => b,
        Err(super::TopologyError::Invalid(ps)) => {
            r.problems.extend(ps);
            return;
        }
        Err(other) => {
            r.problem(at, other.to_string(), None);
            return;
        }
    };
    let file = r.src.name.clone();
    let mut sub = Resolver::new(&src, std::path::Path::new(&file), r.env);
    sub.dir = r.dir.clone();
    super::openbao::child_namespace(&mut sub, "", &format!("tenant-{slug}"), &body, desired);
    r.problems.append(&mut sub.problems);
}

/// One tenant's realm, from the filled-in template, with its keymaster secrets.
fn realm(
    r: &mut Resolver,
    text: &str,
    template: &RealmTemplate,
    slug: &str,
    at: Loc,
    raw: &RawTopology,
    desired: &mut Desired,
) {
    let name = format!("tenant-{slug}");
    let label = format!("{} (tenant {slug})", template.name);
    let Some(realm) =
        super::realm_file::from_text(r, text, &label, &template.path, Some(&name), at)
    else {
        return;
    };
    let first = desired.resources.len();
    desired.resources.extend(realm.resources);
    super::keycloak::dependencies(&mut desired.resources[first..]);
    let own = raw
        .tenants
        .as_ref()
        .and_then(|t| t.value.client_secrets.as_ref());
    let shared = raw
        .keycloak
        .as_ref()
        .and_then(|k| k.value.client_secrets.as_ref());
    if let Some(cs) = own.or(shared) {
        super::keycloak::keymaster(r, cs, desired, first, Some(&name));
    }
    if let Some(kc) = &mut desired.keycloak {
        kc.realms.push(name);
    }
}

/// Every object of the tenant's namespace that names its realm's URL (`/realms/tenant-x`,
/// an OIDC/JWT configuration's discovery URL or issuer) waits for the realm: OpenBao fetches
/// the discovery document when the configuration is written.
fn wire_pairing(desired: &mut Desired, first: usize, name: &str) {
    let realm = ResourceId::on(Backend::Keycloak, name, "realm", None, name).address();
    if !desired.resources.iter().any(|d| d.address == realm) {
        return;
    }
    let needle = format!("/realms/{name}");
    for res in &mut desired.resources[first..] {
        if res.id.backend != Backend::OpenBao {
            continue;
        }
        let names_realm = res.attrs.values().any(|v| match v {
            AttrValue::Plain(v) => v.to_string().contains(&needle),
            _ => false,
        });
        if names_realm && !res.depends_on.contains(&realm) {
            res.depends_on.push(realm.clone());
        }
    }
}

#[cfg(test)]
#[path = "tenants_tests.rs"]
mod tests;
