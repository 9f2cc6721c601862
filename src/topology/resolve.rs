//! Raw → Desired: resolve references, wrap secrets, check what can be checked offline.
//!
//! Every problem is collected (not just the first) and carries its file position, so an operator
//! fixes a broken file in one round trip. Nothing here talks to a server; `vault:` references,
//! which need one, are refused for now with a clear message.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::error::{Problem, Source};
use super::node::{Loc, Node, Raw};
use super::raw::{Blocks, Body, RawAuthMount, RawHost, RawOpenBao, RawSecretsMount, RawTopology};
use crate::duration;
use crate::model::{
    Address, AttrValue, Desired, DesiredResource, Host, HostKind, OpenBaoConn, ROOT_NS, ResourceId,
};
use crate::sensitive::Sensitive;
use serde_saphyr::Spanned;

/// Policies OpenBao always has; roles may name them without declaring them.
pub const BUILTIN_POLICIES: &[&str] = &["default", "root"];

/// Default KV v2 mount for the ledger.
pub const DEFAULT_LEDGER: &str = "aegisctl";

/// Fields the server treats as secret: sensitive even when written literally in the file.
pub const SECRET_FIELDS: &[&str] = &[
    "password",
    "secret_key",
    "oidc_client_secret",
    "client_secret",
    // Database connection URLs may embed credentials (`postgresql://user:pass@host/db`).
    "connection_url",
];

/// Fields of an AppRole (and, later, other auth) role that name policies.
const POLICY_LIST_FIELDS: &[&str] = &["token_policies", "policies"];

pub(crate) struct Resolver<'a> {
    src: &'a Source,
    dir: PathBuf,
    env: &'a dyn Fn(&str) -> Option<String>,
    /// One store per run: each SOPS file is decrypted once however many references use it.
    sops: crate::sops::SopsStore,
    pub problems: Vec<Problem>,
}

impl<'a> Resolver<'a> {
    pub fn new(src: &'a Source, file: &Path, env: &'a dyn Fn(&str) -> Option<String>) -> Self {
        let dir = file
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Resolver {
            src,
            dir,
            env,
            sops: crate::sops::SopsStore::new(),
            problems: Vec::new(),
        }
    }

    fn problem(&mut self, loc: Loc, message: impl Into<String>, help: impl Into<Option<String>>) {
        let p = self.src.problem(loc, message, help.into());
        self.problems.push(p);
    }

    /// Resolves a string that may be a reference. Returns the text and whether it came from a
    /// reference that makes it sensitive. `what` names the field for messages.
    fn string(&mut self, node: &Node, what: &str, file_is_secret: bool) -> Option<(String, bool)> {
        let Some(text) = node.as_str() else {
            self.problem(
                node.loc,
                format!("`{what}` must be a string, found {}", node.shape()),
                None,
            );
            return None;
        };
        if let Some(name) = text.strip_prefix("env:") {
            return match (self.env)(name) {
                Some(v) => Some((v, true)),
                None => {
                    self.problem(
                        node.loc,
                        format!(
                            "`{what}` refers to the environment variable {name}, which is not set"
                        ),
                        format!(
                            "export {name} before running aegisctl, or write the value in the file"
                        ),
                    );
                    None
                }
            };
        }
        if let Some(rel) = text.strip_prefix("file:") {
            let path = self.dir.join(rel);
            return match std::fs::read_to_string(&path) {
                Ok(mut s) => {
                    while s.ends_with('\n') || s.ends_with('\r') {
                        s.pop();
                    }
                    Some((s, file_is_secret))
                }
                Err(e) => {
                    self.problem(
                        node.loc,
                        format!(
                            "`{what}` refers to the file {}, which cannot be read: {e}",
                            path.display()
                        ),
                        "paths in file: references are relative to the topology file".to_string(),
                    );
                    None
                }
            };
        }
        if let Some(spec) = text.strip_prefix("sops:") {
            let Some((file, pointer)) = spec.split_once('#') else {
                self.problem(
                    node.loc,
                    format!("`{what}` has a malformed sops: reference"),
                    "write sops:PATH#/json/pointer, e.g. sops:../secrets/db.enc.yaml#/vault_password".to_string(),
                );
                return None;
            };
            let path = self.dir.join(file);
            return match self.sops.value(&path, pointer) {
                Ok(v) => Some((v.expose().clone(), true)),
                Err(e) => {
                    // SopsError messages name files, keys and recipients, never decrypted values.
                    self.problem(
                        node.loc,
                        format!("`{what}`: {e}"),
                        "check the SOPS file and the age identity (SOPS_AGE_KEY, SOPS_AGE_KEY_FILE, SOPS_AGE_KEY_CMD or ~/.config/sops/age/keys.txt)".to_string(),
                    );
                    None
                }
            };
        }
        if text.starts_with("vault:") {
            self.problem(
                node.loc,
                format!("`{what}` cannot be a vault: reference"),
                "vault: references are read from OpenBao at plan time, so they serve resource fields only; use env: or file: here".to_string(),
            );
            return None;
        }
        Some((text.to_owned(), false))
    }

    /// A `vault:MOUNT/PATH#key` reference, checked for shape only (validate stays offline).
    fn vault_ref(&mut self, node: &Node, field: &str, spec: &str) -> Option<AttrValue> {
        match spec.rsplit_once('#') {
            Some((path, key)) if path.trim_matches('/').contains('/') && !key.is_empty() => {
                Some(AttrValue::Vault(crate::model::VaultRef {
                    path: path.trim_matches('/').to_owned(),
                    key: key.to_owned(),
                    at: format!("{}:{}:{}", self.src.name, node.loc.line, node.loc.column),
                }))
            }
            _ => {
                self.problem(
                    node.loc,
                    format!("`{field}` has a malformed vault: reference"),
                    "write vault:MOUNT/PATH#key, e.g. vault:aegis-system/tools/search-api-key#value".to_string(),
                );
                None
            }
        }
    }

    /// A pass-through attribute value: references resolved, durations checked.
    fn attr(&mut self, field: &str, node: &Node, always_secret: bool) -> Option<AttrValue> {
        if let Some(spec) = node.as_str().and_then(|t| t.strip_prefix("vault:")) {
            return self.vault_ref(node, field, spec);
        }
        if let Raw::Str(_) = node.raw {
            let (text, from_ref) = self.string(node, field, true)?;
            if from_ref || always_secret {
                return Some(AttrValue::Secret(Sensitive::new(text)));
            }
            if duration::is_duration_field(field)
                && let Err(why) = duration::parse(&text)
            {
                self.problem(
                    node.loc,
                    format!("`{field}` is not a valid duration: {why}"),
                    "write a duration such as 90s, 15m, 1h, 24h, or a number of seconds"
                        .to_string(),
                );
                return None;
            }
            return Some(AttrValue::Plain(Value::String(text)));
        }
        if duration::is_duration_field(field) && !matches!(node.raw, Raw::Int(n) if n >= 0) {
            self.problem(
                node.loc,
                format!("`{field}` must be a duration, found {}", node.shape()),
                "write a duration such as 90s, 15m, 1h, 24h, or a number of seconds".to_string(),
            );
            return None;
        }
        let v = self.plain(field, node)?;
        if always_secret {
            let text = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            return Some(AttrValue::Secret(Sensitive::new(text)));
        }
        Some(AttrValue::Plain(v))
    }

    /// A nested value converted to JSON; references are only allowed as whole field values.
    fn plain(&mut self, field: &str, node: &Node) -> Option<Value> {
        Some(match &node.raw {
            Raw::Null => Value::Null,
            Raw::Bool(b) => Value::Bool(*b),
            Raw::Int(i) => Value::from(*i),
            Raw::Float(f) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            Raw::Str(s) => {
                if ["env:", "file:", "sops:", "vault:"]
                    .iter()
                    .any(|p| s.starts_with(p))
                {
                    self.problem(
                        node.loc,
                        format!(
                            "a reference inside a list or mapping of `{field}` is not supported"
                        ),
                        "references (env:, file:, ...) must be the whole value of a field"
                            .to_string(),
                    );
                    return None;
                }
                Value::String(s.clone())
            }
            Raw::List(items) => {
                let mut out = Vec::new();
                for it in items {
                    out.push(self.plain(field, it)?);
                }
                Value::Array(out)
            }
            Raw::Map(m) => {
                let mut out = serde_json::Map::new();
                for (k, v) in m {
                    out.insert(k.clone(), self.plain(field, v)?);
                }
                Value::Object(out)
            }
        })
    }

    fn body(
        &mut self,
        body: &Body,
        prefix: &str,
        always_secret: bool,
    ) -> BTreeMap<String, AttrValue> {
        let mut out = BTreeMap::new();
        for (k, node) in body {
            let secret = always_secret || SECRET_FIELDS.contains(&k.as_str());
            if let Some(v) = self.attr(k, node, secret) {
                out.insert(format!("{prefix}{k}"), v);
            }
        }
        out
    }

    /// Where `key:` is written, searching back from `from` (its value, or anything after it):
    /// serde gives positions of values, and some problems are about the key itself.
    fn key_loc(&self, from: Loc, key: &str) -> Loc {
        let text = self.src.text.as_str();
        let mut starts = vec![0usize];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        let last = (from.line as usize).clamp(1, starts.len());
        for l in (0..last).rev() {
            let begin = starts[l];
            let end = starts.get(l + 1).copied().unwrap_or(text.len());
            let line = &text[begin..end];
            for pat in [
                format!("{key}:"),
                format!("\"{key}\":"),
                format!("'{key}':"),
            ] {
                let found = line.match_indices(&pat).find(|(i, _)| {
                    line[..*i]
                        .chars()
                        .last()
                        .is_none_or(|c| c == ' ' || c == '{' || c == ',' || c == '-')
                });
                if let Some((i, _)) = found {
                    return Loc {
                        line: l as u64 + 1,
                        column: line[..i].chars().count() as u64 + 1,
                        offset: begin + i,
                        len: key.len(),
                    };
                }
            }
        }
        from
    }

    fn unsupported(&mut self, node: &Option<Node>, what: &str) {
        if let Some(n) = node {
            let key = what.rsplit('.').next().unwrap_or(what);
            let loc = self.key_loc(n.loc, key);
            self.problem(
                loc,
                format!("`{what}` is not supported yet by this aegisctl"),
                "remove the block, or upgrade aegisctl".to_string(),
            );
        }
    }
}

/// Resolves a parsed topology into the Desired phase, or the list of problems.
pub(crate) fn resolve(
    raw: &RawTopology,
    file: &Path,
    src: &Source,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Desired, Vec<Problem>> {
    let mut r = Resolver::new(src, file, env);
    if raw.version.value != 1 {
        r.problem(
            Loc::of(&raw.version),
            format!("unsupported topology version {}", raw.version.value),
            "this aegisctl reads `version: 1`".to_string(),
        );
    }
    r.unsupported(&raw.keycloak, "keycloak");
    r.unsupported(&raw.tenants, "tenants");
    r.unsupported(&raw.infisical, "infisical");

    let mut desired = Desired {
        file: file.to_path_buf(),
        conn: OpenBaoConn {
            address: None,
            token: None,
            ca_cert: None,
        },
        ledger_mount: DEFAULT_LEDGER.to_owned(),
        resources: Vec::new(),
        hosts: Vec::new(),
        warnings: Vec::new(),
    };
    if let Some(ob) = &raw.openbao {
        openbao(&mut r, &ob.value, &mut desired);
    }
    for (name, host) in &raw.hosts {
        hosts(&mut r, name, host, &mut desired);
    }
    if r.problems.is_empty() {
        Ok(desired)
    } else {
        Err(r.problems)
    }
}

fn openbao(r: &mut Resolver, ob: &RawOpenBao, desired: &mut Desired) {
    if let Some(n) = &ob.address
        && let Some((a, _)) = r.string(n, "openbao.address", false)
    {
        desired.conn.address = Some(a);
    }
    if let Some(n) = &ob.token
        && let Some((t, _)) = r.string(n, "openbao.token", true)
    {
        desired.conn.token = Some(Sensitive::new(t));
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
            Some(t) if valid_path(t) => desired.ledger_mount = t.trim_matches('/').to_owned(),
            _ => r.problem(
                n.loc,
                "`openbao.ledger` must be a mount path such as `aegisctl`",
                None,
            ),
        }
    }
    plugins(r, &ob.plugins, desired);
    for (path, dev) in &ob.audit {
        let path = path.trim_matches('/');
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
        desired.resources.push(DesiredResource::new(
            ResourceId::new(ROOT_NS, "audit_device", None, path),
            attrs,
        ));
    }
    namespace_body(r, &ob.blocks(), ROOT_NS, desired);
    plugin_dependencies(desired);
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
        let mut body: Body = fields.clone();
        body.remove("type");
        body.remove("name");
        let attrs = r.body(&body, "", false);
        let id_name = match text("version") {
            Some(v) if !v.is_empty() => format!("{name}@{v}"),
            _ => name,
        };
        desired.resources.push(DesiredResource::new(
            ResourceId::new(ROOT_NS, "plugin", Some(&kind), &id_name),
            attrs,
        ));
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
            desired.resources.push(DesiredResource::new(
                ResourceId::new(ns, "policy", None, name),
                attrs,
            ));
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
        let loc = Loc::of(child);
        if name.is_empty() || name.contains('/') || name.contains(' ') || name == "root" {
            r.problem(
                loc,
                format!("`{name}` is not a namespace name"),
                "name one level per key, and nest namespaces for deeper paths".to_string(),
            );
            continue;
        }
        let path = if ns.is_empty() {
            name.clone()
        } else {
            format!("{ns}/{name}")
        };
        let mut attrs = BTreeMap::new();
        if let Some(meta) = &child.value.custom_metadata {
            let mut m = serde_json::Map::new();
            for (k, v) in r.body(&meta.value, "", false) {
                m.insert(k, v.to_wire());
            }
            attrs.insert(
                "custom_metadata".to_owned(),
                AttrValue::Plain(Value::Object(m)),
            );
        }
        let ns_res = DesiredResource::new(ResourceId::new(ns, "namespace", None, name), attrs);
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

fn auth_mount(
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
    let attrs = mount_common(r, &kind, &m.description, &m.tune);
    let mount_res = DesiredResource::new(ResourceId::new(ns, "auth", None, path), attrs);
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
            res.depends_on.push(mount.addr.clone());
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

/// Roles that name policies must name declared (or built-in, or external) ones.
fn check_policies(
    r: &mut Resolver,
    ns: &str,
    name: &str,
    body: &Body,
    known: &BTreeSet<String>,
    res: &mut DesiredResource,
) {
    for field in POLICY_LIST_FIELDS {
        let Some(node) = body.get(*field) else {
            continue;
        };
        for (policy, ploc) in policy_names(node) {
            if !known.contains(&policy) {
                r.problem(
                    ploc,
                    format!("role `{name}` names the policy `{policy}`, which the topology does not declare"),
                    format!("declare it under openbao.policies, or as `{policy}: {{ external: true }}` if it is managed elsewhere"),
                );
            } else if !BUILTIN_POLICIES.contains(&policy.as_str()) {
                res.depends_on
                    .push(ResourceId::new(ns, "policy", None, &policy).address());
            }
        }
    }
}

/// Policy names in a list or a comma-separated string, with where each was written.
fn policy_names(node: &Node) -> Vec<(String, Loc)> {
    match &node.raw {
        Raw::Str(s) => s
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| (p.to_owned(), node.loc))
            .collect(),
        Raw::List(items) => items
            .iter()
            .filter_map(|n| n.as_str().map(|s| (s.to_owned(), n.loc)))
            .collect(),
        _ => Vec::new(),
    }
}

fn secrets_mount(
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
    if let Some(o) = &m.options {
        let mut options = o.value.clone();
        if kind == "kv-v2" {
            options.remove("version");
        }
        attrs.extend(r.body(&options, "options.", false));
    }
    let mount_res = DesiredResource::new(ResourceId::new(ns, "mount", None, path), attrs);
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
                block: "kv",
                kind: "kv_secret",
                types: &["kv-v2"],
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

/// A host of `hosts:`; its AppRole role must be declared (unless `external: true`).
fn hosts(r: &mut Resolver, name: &str, h: &RawHost, desired: &mut Desired) {
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
    if let Some(i) = &h.infisical_identity {
        let at = r.key_loc(i.loc, "infisical_identity");
        r.problem(
            at,
            "`infisical_identity` is not supported yet by this aegisctl",
            "remove it; Infisical client secrets come with Infisical support".to_string(),
        );
    }
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
    desired.hosts.push(Host {
        name: name.to_owned(),
        kind,
        namespace,
        approle_mount: mount.to_owned(),
        role: role.to_owned(),
        cidrs,
        wrap_ttl,
        template,
    });
}

/// An IPv4 or IPv6 CIDR (address/prefix).
fn valid_cidr(c: &str) -> bool {
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
