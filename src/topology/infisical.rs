//! The `infisical:` block: how to reach Infisical, and its objects with the order they must be
//! created in.
//!
//! Objects (see `backends::infisical::kinds` for what each kind manages): a project by slug,
//! its environments by slug, its folders (declared under `folders:`, and every folder a secret's
//! path needs), its secrets (`secrets: {ENV: {PATH: {NAME: value}}}`, always sensitive), the
//! organization's machine identities by name (scope `org`), their Universal Auth configuration
//! and their project memberships. Names go into Infisical's URLs and bodies as data, so they are
//! checked here, where they are written: project and environment slugs by Infisical's slug rule
//! (a slug Infisical would refuse must not cost a half-applied run), secret names and folder
//! paths for what a path cannot hold.

use serde_json::Value;
use serde_saphyr::Spanned;

use super::node::{Loc, Node, Raw};
use super::raw_infisical::{RawInfisical, RawProject};
use super::resolve::{Resolver, check_name};
use crate::model::{
    Address, AttrValue, Backend, Desired, DesiredResource, InfisicalConn, ResourceId,
};
use crate::sensitive::Sensitive;

/// The scope of the organization's objects (identities, their Universal Auth); no project slug
/// can be it (slugs have at least 5 characters).
pub const ORG: &str = "org";

pub(super) fn infisical(r: &mut Resolver, inf: &Spanned<RawInfisical>, desired: &mut Desired) {
    connection(r, inf, desired);
    for (slug, p) in &inf.value.projects {
        project(r, slug, p, desired);
    }
    for (name, i) in &inf.value.identities {
        super::infisical_identities::identity(r, name, i, desired);
    }
}

/// How to reach Infisical, alone (what `bootstrap --revoke` needs).
pub(super) fn connection(r: &mut Resolver, inf: &Spanned<RawInfisical>, desired: &mut Desired) {
    let block = &inf.value;
    let url = r
        .string(&block.url, "infisical.url", false)
        .map(|(u, _)| u.trim_end_matches('/').trim_end_matches("/api").to_owned())
        .filter(|u| {
            let ok = u.starts_with("https://") || u.starts_with("http://");
            if !ok {
                r.problem(
                    block.url.loc,
                    "`infisical.url` must start with https:// or http://",
                    "write Infisical's base URL, e.g. https://app.infisical.com (without /api)"
                        .to_string(),
                );
            }
            ok
        });
    let auth = &block.auth.value;
    let client_id = r
        .string(&auth.client_id, "infisical.auth.client_id", false)
        .map(|(v, _)| v);
    let client_secret = r
        .string(&auth.client_secret, "infisical.auth.client_secret", true)
        .map(|(v, _)| Sensitive::new(v));
    let organization = r
        .string(&block.organization, "infisical.organization", false)
        .map(|(v, _)| v);
    let ca_cert = block.ca_cert.as_ref().and_then(|n| ca(r, n));
    if let (Some(url), Some(client_id), Some(client_secret), Some(organization)) =
        (url, client_id, client_secret, organization)
    {
        desired.infisical = Some(InfisicalConn {
            url,
            client_id,
            client_secret,
            organization,
            ca_cert,
            projects: block.projects.keys().cloned().collect(),
        });
    }
}

fn ca(r: &mut Resolver, n: &Node) -> Option<std::path::PathBuf> {
    let t = n.as_str()?;
    let path = r.dir.join(t.strip_prefix("file:").unwrap_or(t));
    if path.is_file() {
        return Some(path);
    }
    r.problem(
        n.loc,
        format!(
            "`infisical.ca_cert` names {}, which is not a file",
            path.display()
        ),
        "give the path of a PEM file, relative to the topology file".to_string(),
    );
    None
}

pub(super) fn id(scope: &str, kind: &str, mount: Option<&str>, name: &str) -> ResourceId {
    ResourceId::on(Backend::Infisical, scope, kind, mount, name)
}

/// Infisical's slug rule: lowercase letters and digits in runs joined by single hyphens.
fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.split('-').all(|run| {
            !run.is_empty()
                && run
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

pub(super) fn push(
    desired: &mut Desired,
    id: ResourceId,
    attrs: Vec<(&str, AttrValue)>,
    loc: Loc,
    deps: Vec<Address>,
) {
    let attrs = attrs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    let mut res = DesiredResource::new(id, attrs);
    res.loc = Some(loc);
    res.depends_on = deps;
    desired.resources.push(res);
}

/// A plain field of one JSON type (`what` says which), or a problem where it is written.
pub(super) fn typed(r: &mut Resolver, node: &Node, field: &str, what: &str) -> Option<AttrValue> {
    let ok = match (&node.raw, what) {
        (Raw::Str(_), "text") => true,
        (Raw::Bool(_), "boolean") => true,
        (Raw::Int(i), "count") => *i >= 0,
        (Raw::Int(i), "position") => *i >= 1,
        _ => false,
    };
    if what == "text" {
        // A text may come from a reference (env:, file:, sops:).
        return match r.string(node, field, false) {
            Some((t, true)) => Some(AttrValue::secret_text(t)),
            Some((t, false)) => Some(AttrValue::Plain(Value::String(t))),
            None => None,
        };
    }
    if !ok {
        let expected = match what {
            "position" => "a whole number from 1",
            "count" => "a whole number from 0",
            other => other,
        };
        r.problem(
            node.loc,
            format!("`{field}` must be {expected}, found {}", node.shape()),
            None,
        );
        return None;
    }
    Some(AttrValue::Plain(match &node.raw {
        Raw::Bool(b) => Value::Bool(*b),
        Raw::Int(i) => Value::from(*i),
        _ => Value::Null,
    }))
}

fn project(r: &mut Resolver, slug: &str, p: &Spanned<RawProject>, desired: &mut Desired) {
    let loc = r.key_loc(Loc::of(p), slug);
    if slug.len() < 5 || slug.len() > 36 || !is_slug(slug) {
        r.problem(
            loc,
            format!("project slug `{}` is not an Infisical slug", slug.escape_debug()),
            "a project slug is 5 to 36 lowercase letters and digits, in runs joined by single hyphens (e.g. homelab-apps)".to_string(),
        );
        return;
    }
    let raw = &p.value;
    let mut attrs = Vec::new();
    for (field, node, what) in [
        ("name", &raw.name, "text"),
        ("description", &raw.description, "text"),
        ("auto_capitalization", &raw.auto_capitalization, "boolean"),
        (
            "has_delete_protection",
            &raw.has_delete_protection,
            "boolean",
        ),
    ] {
        if let Some(n) = node
            && let Some(v) = typed(r, n, field, what)
        {
            attrs.push((field, v));
        }
    }
    let project_id = id(slug, "project", None, slug);
    let project_addr = project_id.address();
    push(desired, project_id, attrs, loc, Vec::new());
    for (env, e) in &raw.environments {
        let at = r.key_loc(Loc::of(e), env);
        if env.len() > 64 || !is_slug(env) {
            r.problem(
                at,
                format!("environment slug `{}` is not an Infisical slug", env.escape_debug()),
                "an environment slug is up to 64 lowercase letters and digits, in runs joined by single hyphens (e.g. prod)".to_string(),
            );
            continue;
        }
        let mut attrs = Vec::new();
        if let Some(n) = &e.value.name
            && let Some(v) = typed(r, n, "name", "text")
        {
            attrs.push(("name", v));
        }
        if let Some(n) = &e.value.position
            && let Some(v) = typed(r, n, "position", "position")
        {
            attrs.push(("position", v));
        }
        push(
            desired,
            id(slug, "environment", None, env),
            attrs,
            at,
            vec![project_addr.clone()],
        );
    }
    ranks(desired, slug);
    let mut folders: Vec<(String, String, Loc)> = Vec::new();
    for (env, paths) in &raw.folders {
        for n in paths {
            match n.as_str() {
                Some(path) => folders.push((env.clone(), path.to_owned(), n.loc)),
                None => r.problem(n.loc, "a folder must be a path such as /app/db", None),
            }
        }
    }
    for (env, by_path) in &raw.secrets {
        for (path, names) in by_path {
            folders.push((env.clone(), path.clone(), Loc::of(names)));
        }
    }
    let env_declared = |env: &str| raw.environments.contains_key(env);
    let mut made_folders = std::collections::BTreeSet::new();
    for (env, path, at) in &folders {
        if !env_declared(env) {
            r.problem(
                *at,
                format!("project `{slug}` declares no environment `{env}`"),
                format!("declare it under infisical.projects.{slug}.environments"),
            );
            continue;
        }
        let Some(clean) = folder_path(r, *at, path) else {
            continue;
        };
        // Every folder on the way down is an object of its own: the deepest waits for its parent.
        let mut parent: Option<String> = None;
        for depth in 1..=clean.len() {
            let name = clean[..depth].join("/");
            let dep = match &parent {
                Some(p) => id(slug, "folder", Some(env), p).address(),
                None => id(slug, "environment", None, env).address(),
            };
            if made_folders.insert((env.clone(), name.clone())) {
                push(
                    desired,
                    id(slug, "folder", Some(env), &name),
                    Vec::new(),
                    *at,
                    vec![dep],
                );
            }
            parent = Some(name);
        }
    }
    for (env, by_path) in &raw.secrets {
        if !env_declared(env) {
            continue;
        }
        for (path, names) in by_path {
            let Some(clean) = folder_path(r, Loc::of(names), path) else {
                continue;
            };
            let dir = clean.join("/");
            let holder = if dir.is_empty() {
                id(slug, "environment", None, env).address()
            } else {
                id(slug, "folder", Some(env), &dir).address()
            };
            for (key, node) in &names.value {
                let at = r.key_loc(node.loc, key);
                if key.is_empty()
                    || key.contains('/')
                    || key.chars().any(|c| c.is_whitespace() || c.is_control())
                {
                    r.problem(
                        at,
                        format!("secret name `{}` cannot be an Infisical secret's name", key.escape_debug()),
                        "a secret's name has no `/`, spaces or control characters (e.g. ANTHROPIC_API_KEY)".to_string(),
                    );
                    continue;
                }
                let Some(value) = r.attr("value", node, true) else {
                    continue;
                };
                let name = if dir.is_empty() {
                    key.clone()
                } else {
                    format!("{dir}/{key}")
                };
                push(
                    desired,
                    id(slug, "secret", Some(env), &name),
                    vec![("value", value)],
                    at,
                    vec![holder.clone()],
                );
            }
        }
    }
}

/// Declared positions become ranks (1, 2, 3 in the declared order): Infisical keeps positions
/// with gaps once an environment is deleted, so the kind compares an environment's place among
/// the project's environments, not the number (contract §8: "compare relative order").
fn ranks(desired: &mut Desired, slug: &str) {
    let mut placed: Vec<(i64, String, usize)> = desired
        .resources
        .iter()
        .enumerate()
        .filter(|(_, d)| {
            d.id.backend == Backend::Infisical
                && d.id.namespace == slug
                && d.id.kind == "environment"
        })
        .filter_map(|(i, d)| match d.attrs.get("position") {
            Some(AttrValue::Plain(Value::Number(n))) => {
                n.as_i64().map(|p| (p, d.id.name.clone(), i))
            }
            _ => None,
        })
        .collect();
    placed.sort();
    for (rank, (_, _, i)) in placed.into_iter().enumerate() {
        desired.resources[i].attrs.insert(
            "position".into(),
            AttrValue::Plain(Value::from(rank as i64 + 1)),
        );
    }
}

/// A folder path (`/`, `/app/db`) as its segments, or a problem where it is written.
fn folder_path(r: &mut Resolver, at: Loc, path: &str) -> Option<Vec<String>> {
    if !path.starts_with('/') {
        r.problem(
            at,
            format!("folder path `{}` must start with /", path.escape_debug()),
            "write / for the environment's root, /app/db for a folder".to_string(),
        );
        return None;
    }
    let trimmed = path.trim_matches('/');
    if trimmed.is_empty() {
        return Some(Vec::new());
    }
    if !check_name(r, at, "folder path", trimmed) {
        return None;
    }
    Some(trimmed.split('/').map(str::to_owned).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::infisical_identities::is_ip_or_cidr;

    #[test]
    fn slugs_and_addresses() {
        assert!(is_slug("homelab-apps") && is_slug("prod") && is_slug("a1-b2"));
        assert!(!is_slug("Prod") && !is_slug("a--b") && !is_slug("-a") && !is_slug("a_b"));
        assert!(
            is_ip_or_cidr("10.0.8.0/24") && is_ip_or_cidr("::/0") && is_ip_or_cidr("10.0.8.21")
        );
        assert!(
            !is_ip_or_cidr("10.0.8.0/33") && !is_ip_or_cidr("host") && !is_ip_or_cidr("::/129")
        );
    }
}

#[cfg(test)]
#[path = "infisical_tests.rs"]
mod block_tests;
