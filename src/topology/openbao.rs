//! The `openbao:` block: connection settings, plugins, audit devices, and the namespace bodies
//! (policies, auth and secrets mounts, child namespaces), recursively.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::mounts::{auth_mount, secrets_mount};
use super::node::{Loc, Node, Raw};
use serde_saphyr::Spanned;

use super::raw::{Blocks, Body, RawNamespace, RawOpenBao};
use super::resolve::{BUILTIN_POLICIES, Resolver, check_name};
use crate::model::{Address, AttrValue, Desired, DesiredResource, ROOT_NS, ResourceId};
use crate::sensitive::Sensitive;

/// Mounts OpenBao reserves: the ledger cannot live there (a write under `auth/` or `sys/` would
/// go to another backend, or nowhere, and the ledger would not be real).
const RESERVED_LEDGER: &[&str] = &["sys", "identity", "cubbyhole", "token", "auth"];

/// Attribute positions of a body (each key's, as [`DesiredResource::attr_locs`] promises: a
/// problem with a field, such as a name the server does not know, is about its key), under the
/// attribute names it becomes.
pub(super) fn locs_of(r: &Resolver, res: &mut DesiredResource, body: &Body, prefix: &str) {
    for (k, node) in body {
        res.attr_locs
            .insert(format!("{prefix}{k}"), r.key_loc(node.loc, k));
    }
}

pub(super) fn openbao(r: &mut Resolver, ob: &RawOpenBao, desired: &mut Desired) {
    connection(r, ob, desired);
    plugins(r, &ob.plugins, desired);
    audit(r, ob, desired);
    namespace_body(r, &ob.blocks(), ROOT_NS, desired);
    plugin_dependencies(desired);
}

/// How to reach OpenBao, and where the ledger is.
pub(super) fn connection(r: &mut Resolver, ob: &RawOpenBao, desired: &mut Desired) {
    if let Some(n) = &ob.token
        && let Some((t, _)) = r.string(n, "openbao.token", true)
    {
        desired.conn.token = Some(Sensitive::new(t));
    }
    endpoint(r, ob, desired);
}

/// Where OpenBao is (address, CA) and the ledger, without the token: `aegisctl run` logs in
/// with its own credentials, and the operator's token variable need not exist on its host.
pub(super) fn endpoint(r: &mut Resolver, ob: &RawOpenBao, desired: &mut Desired) {
    if let Some(n) = &ob.address
        && let Some((a, _)) = r.string(n, "openbao.address", false)
    {
        desired.conn.address = Some(a);
    }
    if let Some(n) = &ob.ca_cert {
        // The CA certificate is public: only its path is kept, reqwest reads it at connect time.
        match n.as_str() {
            Some(t) => {
                let rel = t.strip_prefix("file:").unwrap_or(t);
                let path = r.dir.join(rel);
                if path.is_file() {
                    desired.conn.ca_cert = Some(path);
                } else {
                    r.problem(
                        n.loc,
                        format!(
                            "`openbao.ca_cert` names {}, which is not a file",
                            path.display()
                        ),
                        "give the path of a PEM file, relative to the topology file".to_string(),
                    );
                }
            }
            None => r.problem(n.loc, "`openbao.ca_cert` must be a string", None),
        }
    }
    if let Some(n) = &ob.ledger {
        match n.as_str() {
            Some(t) if valid_path(t) => {
                let mount = t.trim_matches('/');
                let first = mount.split('/').next().unwrap_or(mount);
                if RESERVED_LEDGER.contains(&first) {
                    r.problem(
                        n.loc,
                        format!("`openbao.ledger` cannot be `{mount}`: OpenBao reserves `{first}` for itself"),
                        "choose a mount of aegisctl's own, such as `aegisctl` (the default)".to_string(),
                    );
                } else if check_name(r, n.loc, "`openbao.ledger`", mount) {
                    desired.ledger_mount = mount.to_owned();
                }
            }
            _ => r.problem(
                n.loc,
                "`openbao.ledger` must be a mount path such as `aegisctl`",
                None,
            ),
        }
    }
}

/// `openbao.audit`: audit devices (root namespace only).
fn audit(r: &mut Resolver, ob: &RawOpenBao, desired: &mut Desired) {
    for (path, dev) in &ob.audit {
        let path = path.trim_matches('/');
        if !check_name(r, Loc::of(dev), "the audit device", path) {
            continue;
        }
        let mut attrs = BTreeMap::new();
        if let Some(v) = r.attr("type", &dev.value.kind, false) {
            attrs.insert("type".to_owned(), v);
        }
        for (key, node) in [
            ("description", &dev.value.description),
            ("local", &dev.value.local),
        ] {
            if let Some(n) = node
                && let Some(v) = r.attr(key, n, false)
            {
                attrs.insert(key.to_owned(), v);
            }
        }
        if let Some(o) = &dev.value.options {
            attrs.extend(r.body(&o.value, "options.", false));
        }
        let mut res =
            DesiredResource::new(ResourceId::new(ROOT_NS, "audit_device", None, path), attrs);
        res.loc = Some(Loc::of(dev));
        if let Some(o) = &dev.value.options {
            locs_of(r, &mut res, &o.value, "options.");
        }
        desired.resources.push(res);
    }
}

/// `openbao.plugins`: a list of catalog entries, each `type` + `name` + the server's fields.
fn plugins(r: &mut Resolver, node: &Option<Node>, desired: &mut Desired) {
    let Some(node) = node else { return };
    let Raw::List(items) = &node.raw else {
        r.problem(
            node.loc,
            format!("`openbao.plugins` must be a list, found {}", node.shape()),
            None,
        );
        return;
    };
    for item in items {
        let Raw::Map(fields) = &item.raw else {
            r.problem(
                item.loc,
                "each plugin must be a mapping with `type`, `name`, `command`, `sha256`",
                None,
            );
            continue;
        };
        let text = |k: &str| fields.get(k).and_then(Node::as_str).map(str::to_owned);
        let (Some(kind), Some(name)) = (text("type"), text("name")) else {
            r.problem(
                item.loc,
                "a plugin needs `type` (secret, auth or database) and `name`",
                None,
            );
            continue;
        };
        if !["secret", "auth", "database"].contains(&kind.as_str()) {
            r.problem(
                fields["type"].loc,
                format!("plugin type `{kind}` is not one of secret, auth, database"),
                None,
            );
            continue;
        }
        if !check_name(r, fields["name"].loc, "the plugin", &name) {
            continue;
        }
        let mut body: Body = fields.clone();
        body.remove("type");
        body.remove("name");
        let attrs = r.body(&body, "", false);
        let id_name = match text("version") {
            Some(v) if !v.is_empty() => format!("{name}@{v}"),
            _ => name,
        };
        let mut res = DesiredResource::new(
            ResourceId::new(ROOT_NS, "plugin", Some(&kind), &id_name),
            attrs,
        );
        res.loc = Some(item.loc);
        locs_of(r, &mut res, &body, "");
        desired.resources.push(res);
    }
}

/// Mounts of a plugin's type wait for its registration.
fn plugin_dependencies(desired: &mut Desired) {
    let plugins: Vec<(String, String, Address)> = desired
        .resources
        .iter()
        .filter(|r| r.id.kind == "plugin")
        .map(|r| {
            let name = r.id.name.split('@').next().unwrap_or_default().to_owned();
            (
                r.id.mount.clone().unwrap_or_default(),
                name,
                r.address.clone(),
            )
        })
        .collect();
    for res in &mut desired.resources {
        let table = match res.id.kind.as_str() {
            "mount" => "secret",
            "auth" => "auth",
            _ => continue,
        };
        let Some(t) = res.plain_str("type").map(str::to_owned) else {
            continue;
        };
        for (ptype, pname, addr) in &plugins {
            if ptype == table && *pname == t {
                res.depends_on.push(addr.clone());
            }
        }
    }
}

fn valid_path(p: &str) -> bool {
    let p = p.trim_matches('/');
    !p.is_empty() && !p.contains("//") && !p.contains(' ')
}

/// The blocks one namespace holds, then its child namespaces, recursively.
fn namespace_body(r: &mut Resolver, ob: &Blocks, ns: &str, desired: &mut Desired) {
    // Policies first: roles are checked against the names declared here.
    let mut known_policies: BTreeSet<String> =
        BUILTIN_POLICIES.iter().map(|s| s.to_string()).collect();
    for (name, node) in ob.policies {
        known_policies.insert(name.clone());
        if let Raw::Map(m) = &node.raw {
            match m.get("external") {
                Some(Node {
                    raw: Raw::Bool(true),
                    ..
                }) if m.len() == 1 => continue,
                _ => {
                    r.problem(
                        node.loc,
                        format!("policy `{name}` must be HCL text, `file:PATH`, or `{{ external: true }}`"),
                        None,
                    );
                    continue;
                }
            }
        }
        if !check_name(r, r.key_loc(node.loc, name), "the policy", name) {
            continue;
        }
        if BUILTIN_POLICIES.contains(&name.as_str()) {
            let loc = r.key_loc(node.loc, name);
            r.problem(
                loc,
                format!("the built-in policy `{name}` cannot be managed"),
                "give the policy another name".to_string(),
            );
            continue;
        }
        if let Some((text, _)) = r.string(node, &format!("policies.{name}"), false) {
            let mut attrs = BTreeMap::new();
            attrs.insert("policy".to_owned(), AttrValue::Plain(Value::String(text)));
            let mut res = DesiredResource::new(ResourceId::new(ns, "policy", None, name), attrs);
            res.loc = Some(r.key_loc(node.loc, name));
            res.attr_locs.insert("policy".to_owned(), node.loc);
            desired.resources.push(res);
        }
    }

    for (path, mount) in ob.auth {
        auth_mount(
            r,
            ns,
            path.trim_matches('/'),
            &mount.value,
            Loc::of(mount),
            &known_policies,
            desired,
        );
    }
    for (path, mount) in ob.secrets {
        secrets_mount(
            r,
            ns,
            path.trim_matches('/'),
            &mount.value,
            Loc::of(mount),
            desired,
        );
    }
    for (name, child) in ob.namespaces {
        child_namespace(r, ns, name, child, desired);
    }
}

/// The namespace `name` below `ns` (the root: `""`), with what it holds.
pub(super) fn child_namespace(
    r: &mut Resolver,
    ns: &str,
    name: &str,
    child: &Spanned<RawNamespace>,
    desired: &mut Desired,
) {
    let loc = Loc::of(child);
    // A namespace path travels in a header (X-Vault-Namespace): printable ASCII only.
    if name.is_empty()
        || name.contains('/')
        || name.contains(' ')
        || name == "root"
        || !name.chars().all(|c| c.is_ascii_graphic())
        || crate::backends::path::check_segment(name).is_some()
    {
        r.problem(
            loc,
            format!("`{}` is not a namespace name", name.escape_debug()),
            "name one level per key (printable ASCII, no spaces, not `.` or `..`), and nest namespaces for deeper paths".to_string(),
        );
        return;
    }
    let path = if ns.is_empty() {
        name.to_owned()
    } else {
        format!("{ns}/{name}")
    };
    let mut attrs = BTreeMap::new();
    if let Some(meta) = &child.value.custom_metadata {
        let mut m = serde_json::Map::new();
        for (k, v) in r.body(&meta.value, "", false) {
            if v.is_secret() {
                // Plans show metadata, and OpenBao shows it to anyone who may list namespaces.
                r.problem(
                    meta.value.get(&k).map(|n| n.loc).unwrap_or(loc),
                    format!("`custom_metadata.{k}` of namespace `{name}` cannot be a secret or a reference"),
                    "namespace metadata is not secret: write the value literally".to_string(),
                );
                continue;
            }
            m.insert(k, v.to_wire());
        }
        attrs.insert(
            "custom_metadata".to_owned(),
            AttrValue::Plain(Value::Object(m)),
        );
    }
    let mut ns_res = DesiredResource::new(ResourceId::new(ns, "namespace", None, name), attrs);
    ns_res.loc = Some(r.key_loc(loc, name));
    let ns_addr = ns_res.address.clone();
    desired.resources.push(ns_res);
    let start = desired.resources.len();
    namespace_body(r, &child.value.blocks(), &path, desired);
    // Everything directly inside waits for the namespace (deeper levels wait for theirs).
    for res in &mut desired.resources[start..] {
        if res.id.namespace == path {
            res.depends_on.push(ns_addr.clone());
        }
    }
}
