//! Mounts and what they hold: a secrets or auth mount becomes a `mount`/`auth` resource, and
//! each child block (`roles`, `kv`, `keys`, `connections`, ...) resources of the kinds that fit
//! the mount's type.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use serde_saphyr::Spanned;

use super::node::{Loc, Node, Raw};
use super::openbao::locs_of;
use super::policies::check_policies;
use super::raw::{Body, RawAuthMount, RawSecretsMount};
use super::resolve::{Resolver, check_name};
use crate::model::{Address, AttrValue, Desired, DesiredResource, ROOT_NS, ResourceId};

/// The mount resource itself, with where its fields are written.
fn mount_resource(
    r: &Resolver,
    id: ResourceId,
    attrs: BTreeMap<String, AttrValue>,
    loc: Loc,
    description: &Option<Node>,
    tune: &Option<Spanned<Body>>,
    options: Option<&Body>,
) -> DesiredResource {
    let mut res = DesiredResource::new(id, attrs);
    res.loc = Some(loc);
    if let Some(d) = description {
        res.attr_locs
            .insert("description".into(), r.key_loc(d.loc, "description"));
    }
    if let Some(t) = tune {
        locs_of(r, &mut res, &t.value, "tune.");
    }
    if let Some(o) = options {
        locs_of(r, &mut res, o, "options.");
    }
    res
}

fn mount_common(
    r: &mut Resolver,
    kind: &str,
    description: &Option<Node>,
    tune: &Option<serde_saphyr::Spanned<Body>>,
) -> BTreeMap<String, AttrValue> {
    let mut attrs = BTreeMap::new();
    attrs.insert(
        "type".to_owned(),
        AttrValue::Plain(Value::String(kind.to_owned())),
    );
    if let Some(d) = description
        && let Some(v) = r.attr("description", d, false)
    {
        attrs.insert("description".to_owned(), v);
    }
    if let Some(t) = tune {
        attrs.extend(r.body(&t.value, "tune.", false));
    }
    attrs
}

pub(super) fn auth_mount(
    r: &mut Resolver,
    ns: &str,
    path: &str,
    m: &RawAuthMount,
    loc: Loc,
    known_policies: &BTreeSet<String>,
    desired: &mut Desired,
) {
    let kind = match &m.kind {
        Some(n) => match n.as_str() {
            Some(s) => s.to_owned(),
            None => {
                r.problem(n.loc, "`type` must be a string such as `approle`", None);
                return;
            }
        },
        None => path.rsplit('/').next().unwrap_or(path).to_owned(),
    };
    if crate::backends::openbao::mount::BUILTIN_AUTH.contains(&path) {
        r.problem(
            loc,
            "the `token` auth mount is built in and cannot be managed",
            None,
        );
        return;
    }
    if !check_name(r, loc, "the auth mount", path) {
        return;
    }
    let attrs = mount_common(r, &kind, &m.description, &m.tune);
    let mount_res = mount_resource(
        r,
        ResourceId::new(ns, "auth", None, path),
        attrs,
        loc,
        &m.description,
        &m.tune,
        None,
    );
    let mount_addr = mount_res.address.clone();
    desired.resources.push(mount_res);
    let config: BTreeMap<String, Spanned<Body>> = m
        .config
        .iter()
        .map(|c| {
            (
                "config".to_owned(),
                Spanned {
                    value: c.value.clone(),
                    referenced: c.referenced,
                    defined: c.defined,
                },
            )
        })
        .collect();
    let mount = MountCtx {
        ns,
        path,
        kind: &kind,
        addr: &mount_addr,
        loc,
    };
    children(
        r,
        &mount,
        &[
            Child {
                block: "roles",
                kind: "approle_role",
                types: &["approle"],
                entries: &m.roles,
            },
            Child {
                block: "roles",
                kind: "jwt_role",
                types: &["jwt", "oidc"],
                entries: &m.roles,
            },
            Child {
                block: "config",
                kind: "auth_config",
                types: &["jwt", "oidc"],
                entries: &config,
            },
        ],
        known_policies,
        desired,
    );
}

/// A mount being resolved, for its child blocks.
struct MountCtx<'a> {
    ns: &'a str,
    path: &'a str,
    kind: &'a str,
    addr: &'a Address,
    loc: Loc,
}

/// A block of child objects under a mount, and the mount types it belongs to.
struct Child<'a> {
    block: &'static str,
    kind: &'static str,
    types: &'static [&'static str],
    entries: &'a BTreeMap<String, Spanned<Body>>,
}

/// Resolves the child blocks of a mount into resources of their kinds.
fn children(
    r: &mut Resolver,
    mount: &MountCtx,
    blocks: &[Child],
    known_policies: &BTreeSet<String>,
    desired: &mut Desired,
) {
    for block in blocks {
        if block.entries.is_empty() {
            continue;
        }
        let fits = |c: &Child| c.types.contains(&mount.kind);
        if !fits(block) {
            // Another block of the same name may fit (roles: approle or jwt/oidc); complain once.
            let same: Vec<&Child> = blocks.iter().filter(|c| c.block == block.block).collect();
            if same.iter().any(|c| fits(c)) || !std::ptr::eq(same[0], block) {
                continue;
            }
            let types: Vec<String> = same
                .iter()
                .flat_map(|c| c.types.iter().map(|t| format!("`{t}`")))
                .collect();
            let first = block
                .entries
                .values()
                .map(Loc::of)
                .min_by_key(|l| l.offset)
                .unwrap_or(mount.loc);
            let loc = r.key_loc(first, block.block);
            r.problem(
                loc,
                format!(
                    "`{}` belong under a mount of type {}; `{}` is of type `{}`",
                    block.block,
                    types.join(" or "),
                    mount.path,
                    mount.kind
                ),
                format!(
                    "move the `{}` block to a mount of the right type, or change this mount's `type`",
                    block.block
                ),
            );
            continue;
        }
        for (name, body) in block.entries {
            let name = name.trim_matches('/');
            if !name.is_empty()
                && !check_name(
                    r,
                    Loc::of(body),
                    &format!("the `{}` entry", block.block),
                    name,
                )
            {
                continue;
            }
            if name.is_empty() || body.value.is_empty() {
                r.problem(
                    Loc::of(body),
                    format!(
                        "`{}` entry `{name}` needs a name and at least one field",
                        block.block
                    ),
                    None,
                );
                continue;
            }
            let attrs = r.body(&body.value, "", block.kind == "kv_secret");
            let mut res = DesiredResource::new(
                ResourceId::new(mount.ns, block.kind, Some(mount.path), name),
                attrs,
            );
            res.loc = Some(Loc::of(body));
            locs_of(r, &mut res, &body.value, "");
            res.depends_on.push(mount.addr.clone());
            if block.kind == "kv_secret" {
                // Its metadata (cas_required, max_versions) governs the first write.
                let meta = ResourceId::new(mount.ns, "kv_metadata", Some(mount.path), name);
                if blocks.iter().any(|c| {
                    c.kind == "kv_metadata" && c.entries.keys().any(|k| k.trim_matches('/') == name)
                }) {
                    res.depends_on.push(meta.address());
                }
            }
            check_policies(r, mount.ns, name, &body.value, known_policies, &mut res);
            if let Some(db) = body.value.get("db_name").and_then(Node::as_str) {
                // A database role waits for its connection when the file declares it.
                let conn = ResourceId::new(mount.ns, "database_connection", Some(mount.path), db);
                res.depends_on.push(conn.address());
            }
            desired.resources.push(res);
        }
    }
}

pub(super) fn secrets_mount(
    r: &mut Resolver,
    ns: &str,
    path: &str,
    m: &RawSecretsMount,
    loc: Loc,
    desired: &mut Desired,
) {
    let Some(kind_node) = &m.kind else {
        r.problem(
            loc,
            format!("secrets mount `{path}` needs a `type`"),
            "for example `type: kv-v2` or `type: transit`".to_string(),
        );
        return;
    };
    let Some(kind) = kind_node.as_str().map(str::to_owned) else {
        r.problem(
            kind_node.loc,
            "`type` must be a string such as `kv-v2`",
            None,
        );
        return;
    };
    if crate::backends::openbao::mount::BUILTIN_SECRETS.contains(&path) {
        r.problem(
            loc,
            format!("`{path}` is a built-in mount and cannot be managed"),
            None,
        );
        return;
    }
    if !check_name(r, loc, "the secrets mount", path) {
        return;
    }
    if ns == ROOT_NS && path == desired.ledger_mount {
        r.problem(
            loc,
            format!("`{path}` is the ledger mount; aegisctl manages it itself"),
            "choose another mount path, or another `openbao.ledger`".to_string(),
        );
        return;
    }
    // `type: kv` with `options.version: 2` is the server's spelling of `kv-v2`; keep one.
    let v2 = m
        .options
        .as_ref()
        .and_then(|o| o.value.get("version"))
        .is_some_and(|n| matches!(&n.raw, Raw::Int(2)) || n.as_str() == Some("2"));
    let kind = if kind == "kv" && v2 {
        "kv-v2".to_owned()
    } else {
        kind
    };
    let mut attrs = mount_common(r, &kind, &m.description, &m.tune);
    let mut options = m.options.as_ref().map(|o| o.value.clone());
    if let Some(options) = &mut options {
        if kind == "kv-v2" {
            options.remove("version");
        }
        attrs.extend(r.body(options, "options.", false));
    }
    let mount_res = mount_resource(
        r,
        ResourceId::new(ns, "mount", None, path),
        attrs,
        loc,
        &m.description,
        &m.tune,
        options.as_ref(),
    );
    let mount_addr = mount_res.address.clone();
    desired.resources.push(mount_res);

    let mut aws_config: BTreeMap<String, Spanned<Body>> = BTreeMap::new();
    if let Some(c) = &m.config {
        for (k, v) in &c.value {
            if k == "root" || k == "lease" {
                aws_config.insert(
                    k.clone(),
                    Spanned {
                        value: v.value.clone(),
                        referenced: v.referenced,
                        defined: v.defined,
                    },
                );
            } else {
                r.problem(
                    Loc::of(v),
                    format!("unknown config object `{k}`"),
                    "the aws engine takes `config.root` and `config.lease`".to_string(),
                );
            }
        }
    }
    let mount = MountCtx {
        ns,
        path,
        kind: &kind,
        addr: &mount_addr,
        loc,
    };
    children(
        r,
        &mount,
        &[
            Child {
                block: "kv_metadata",
                kind: "kv_metadata",
                types: &["kv-v2"],
                entries: &m.kv_metadata,
            },
            Child {
                block: "kv",
                kind: "kv_secret",
                types: &["kv-v2", "kv"],
                entries: &m.kv,
            },
            Child {
                block: "keys",
                kind: "transit_key",
                types: &["transit"],
                entries: &m.keys,
            },
            Child {
                block: "connections",
                kind: "database_connection",
                types: &["database"],
                entries: &m.connections,
            },
            Child {
                block: "roles",
                kind: "database_role",
                types: &["database"],
                entries: &m.roles,
            },
            Child {
                block: "roles",
                kind: "aws_role",
                types: &["aws"],
                entries: &m.roles,
            },
            Child {
                block: "static_roles",
                kind: "database_static_role",
                types: &["database"],
                entries: &m.static_roles,
            },
            Child {
                block: "config",
                kind: "aws_config",
                types: &["aws"],
                entries: &aws_config,
            },
        ],
        &BTreeSet::new(),
        desired,
    );
}
