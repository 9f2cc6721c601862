//! Raw → Desired: resolve references, wrap secrets, check what can be checked offline (names,
//! durations, duplicates, the topology's identity).
//!
//! Every problem is collected (not just the first) and carries its file position, so an operator
//! fixes a broken file in one round trip. Nothing here talks to a server: `vault:` references are
//! kept as such (read at plan time), and field names are checked against OpenBao's schema by
//! plan and apply. The blocks live in `openbao.rs`, `mounts.rs`, `keycloak.rs`, `infisical*.rs`
//! and `hosts.rs`, references in `refs.rs`, output references' wiring in `outputs.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::error::{Problem, Source};
use super::node::{Loc, Node, Raw};
use super::raw::{Body, RawTopology};
use crate::backends::spec::KindSpec;
use crate::duration;
use crate::model::{Address, AttrValue, Desired, DesiredResource, OpenBaoConn};

/// Policies OpenBao always has; roles may name them without declaring them.
pub const BUILTIN_POLICIES: &[&str] = &["default", "root"];

/// Default KV v2 mount for the ledger.
pub const DEFAULT_LEDGER: &str = "aegisctl";

/// Fields that may hold a secret, so error snippets mask them whatever they hold: the secret
/// fields, and database connection URLs, which may embed credentials
/// (`postgresql://user:pass@host/db`; as values those are sensitive only when they do, see
/// [`Resolver::attr`]).
pub const MASKED_FIELDS: &[&str] = &[
    "password",
    "secret_key",
    "oidc_client_secret",
    "client_secret",
    "connection_url",
];

pub(crate) struct Resolver<'a> {
    pub(super) src: &'a Source,
    pub(super) dir: PathBuf,
    pub(super) env: &'a dyn Fn(&str) -> Option<String>,
    /// One store per run: each SOPS file is decrypted once however many references use it.
    pub(super) sops: crate::sops::SopsStore,
    /// The field rules of what is being resolved ([`KindSpec`]): OpenBao's, or a realm file's.
    pub(super) rules: &'static KindSpec,
    /// Byte offsets of the line starts, computed once (a 50,000-object file has 400,000 lines).
    line_starts: std::cell::OnceCell<Vec<usize>>,
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
            rules: &crate::backends::spec::OPENBAO,
            line_starts: std::cell::OnceCell::new(),
            problems: Vec::new(),
        }
    }

    pub(super) fn problem(
        &mut self,
        loc: Loc,
        message: impl Into<String>,
        help: impl Into<Option<String>>,
    ) {
        let p = self.src.problem(loc, message, help.into());
        self.problems.push(p);
    }

    /// A pass-through attribute value: references resolved, durations checked.
    pub(super) fn attr(
        &mut self,
        field: &str,
        node: &Node,
        always_secret: bool,
    ) -> Option<AttrValue> {
        if let Some(spec) = node.as_str().and_then(|t| t.strip_prefix("vault:")) {
            return self.vault_ref(node, field, spec);
        }
        if let Some(inner) = node.as_str().and_then(|t| t.strip_prefix("json:")) {
            return self.json_ref(node, field, inner);
        }
        if let Some(spec) = node.as_str().and_then(|t| t.strip_prefix("infisical:")) {
            return self.infisical_ref(node, field, spec);
        }
        if let Some(spec) = node.as_str().and_then(|t| t.strip_prefix("keycloak:")) {
            return self.keycloak_ref(node, field, spec);
        }
        if let Raw::Str(_) = node.raw {
            let (text, from_ref) = self.string(node, field, true)?;
            let embeds = field == "connection_url"
                && crate::backends::openbao::database_connection::embeds_password(&text);
            if from_ref || always_secret || embeds {
                return Some(AttrValue::secret_text(text));
            }
            // `system`: tune's "the system default" (OpenBao's own value for these fields).
            if self.rules.durations.has(field)
                && !(field.starts_with("tune.") || text == "system")
                && let Err(why) = duration::parse(text.trim_start_matches('-'))
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
        if self.rules.durations.has(field) && !matches!(node.raw, Raw::Int(n) if n >= 0) {
            self.problem(
                node.loc,
                format!("`{field}` must be a duration, found {}", node.shape()),
                "write a duration such as 90s, 15m, 1h, 24h, or a number of seconds".to_string(),
            );
            return None;
        }
        let v = self.plain(field, node)?;
        if always_secret {
            // A literal secret keeps its type: a KV value `42` is a number.
            return Some(AttrValue::secret_json(v));
        }
        Some(AttrValue::Plain(v))
    }

    /// A nested value converted to JSON; references are only allowed as whole field values.
    pub(super) fn plain(&mut self, field: &str, node: &Node) -> Option<Value> {
        Some(match &node.raw {
            Raw::Null => Value::Null,
            Raw::Bool(b) => Value::Bool(*b),
            Raw::Int(i) => Value::from(*i),
            Raw::Float(f) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            Raw::Str(s) => {
                if [
                    "env:",
                    "file:",
                    "sops:",
                    "vault:",
                    "json:",
                    "infisical:",
                    "keycloak:",
                ]
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

    pub(super) fn body(
        &mut self,
        body: &Body,
        prefix: &str,
        always_secret: bool,
    ) -> BTreeMap<String, AttrValue> {
        let mut out = BTreeMap::new();
        for (k, node) in body {
            let secret = always_secret || self.rules.secret.has(k);
            if let Some(v) = self.attr(k, node, secret) {
                out.insert(format!("{prefix}{k}"), v);
            }
        }
        out
    }

    /// Where `key:` is written, searching back from `from` (its value, or anything after it):
    /// serde gives positions of values, and some problems are about the key itself.
    pub(super) fn key_loc(&self, from: Loc, key: &str) -> Loc {
        /// A key sits on its value's line or a few above it (a block scalar, a wrapped flow
        /// mapping); farther up it is some other key of the same name.
        const LOOK_BACK: usize = 64;
        let text = self.src.text.as_str();
        let starts = self.line_starts.get_or_init(|| {
            let mut starts = vec![0usize];
            starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
            starts
        });
        let last = (from.line as usize).clamp(1, starts.len());
        for l in (last.saturating_sub(LOOK_BACK)..last).rev() {
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
}

/// The topology's identity: `name:`, else the file's stem (`inventories/prod.yaml` → `prod`).
fn identity(r: &mut Resolver, raw: &RawTopology, file: &Path) -> String {
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "default".to_owned());
    let Some(node) = &raw.name else { return stem };
    match node.as_str() {
        Some(n) if !n.trim().is_empty() && !n.chars().any(char::is_control) && n.len() <= 128 => {
            n.to_owned()
        }
        _ => {
            r.problem(
                node.loc,
                "`name` must be a short text naming this topology",
                "it identifies the topology in the ledger: another topology sharing the ledger never touches what this one manages".to_string(),
            );
            stem
        }
    }
}

pub(super) fn empty_desired(file: &Path, name: String, src: &Source) -> Desired {
    Desired {
        file: file.to_path_buf(),
        name,
        source: Some(src.clone()),
        conn: OpenBaoConn {
            address: None,
            token: None,
            ca_cert: None,
        },
        keycloak: None,
        infisical: None,
        ledger_mount: DEFAULT_LEDGER.to_owned(),
        resources: Vec::new(),
        hosts: Vec::new(),
        warnings: Vec::new(),
    }
}

/// Resolves a parsed topology into the Desired phase, or the list of problems.
pub(crate) fn resolve(
    raw: &RawTopology,
    file: &Path,
    src: &Source,
    original: &str,
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
    let name = identity(&mut r, raw, file);
    let mut desired = empty_desired(file, name, src);
    if let Some(ob) = &raw.openbao {
        super::openbao::openbao(&mut r, &ob.value, &mut desired);
    }
    if let Some(kc) = &raw.keycloak {
        super::keycloak::keycloak(&mut r, kc, &mut desired);
    }
    if let Some(inf) = &raw.infisical {
        super::infisical::infisical(&mut r, inf, &mut desired);
    }
    if let Some(t) = &raw.tenants {
        super::tenants::tenants(&mut r, t, raw, original, &mut desired);
    }
    for (name, host) in &raw.hosts {
        super::hosts::hosts(&mut r, name, host, &mut desired);
    }
    if let Some(rt) = &raw.runtime {
        super::runtime::check(&mut r, rt);
    }
    super::outputs::wire(&mut r, &mut desired);
    duplicates(&mut r, &desired);
    if let Some(cycle) = super::cycles::find_cycle(&desired.resources) {
        let names: Vec<String> = cycle
            .iter()
            .map(|&i| desired.resources[i].address.0.clone())
            .collect();
        let first = &desired.resources[cycle[0]];
        let message = format!(
            "these objects depend on each other, so none can be created first: {}",
            names.join(" → ")
        );
        let help = "remove one of the references that make the loop".to_string();
        let loc = first.loc.unwrap_or_default();
        match &first.file {
            Some(file) => r.problems.push(file.problem(loc, message, Some(help))),
            None => r.problem(loc, message, help),
        }
    }
    if r.problems.is_empty() {
        Ok(desired)
    } else {
        Err(r.problems)
    }
}

/// Only what is needed to reach OpenBao and the ledger (`unlock`, `bootstrap --list` and
/// `--revoke`): the rest of the file is not resolved, so an unrelated `env:` or `sops:` input
/// that cannot be read does not stand in the way of an emergency.
pub(crate) fn resolve_connection(
    raw: &RawTopology,
    file: &Path,
    src: &Source,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Desired, Vec<Problem>> {
    let mut r = Resolver::new(src, file, env);
    let name = identity(&mut r, raw, file);
    let mut desired = empty_desired(file, name, src);
    if let Some(ob) = &raw.openbao {
        super::openbao::connection(&mut r, &ob.value, &mut desired);
    }
    if let Some(inf) = &raw.infisical {
        super::infisical::connection(&mut r, inf, &mut desired);
    }
    if r.problems.is_empty() {
        Ok(desired)
    } else {
        Err(r.problems)
    }
}

/// Reads the `runtime:` block for one profile (see `topology/runtime.rs`), resolving nothing
/// else: the runtime host has the login's credentials, not the operator's.
pub(crate) fn resolve_runtime(
    raw: &RawTopology,
    file: &Path,
    src: &Source,
    env: &dyn Fn(&str) -> Option<String>,
    profile: &str,
    namespace: Option<&str>,
) -> Result<crate::runtime::profile::RuntimeSpec, Vec<Problem>> {
    let mut r = Resolver::new(src, file, env);
    match super::runtime::spec(&mut r, raw, file, profile, namespace) {
        Some(spec) if r.problems.is_empty() => Ok(spec),
        _ => Err(r.problems),
    }
}

/// The connection (with the operator's token) and where runtime audit records go: what
/// `aegisctl audit TOPOLOGY` needs to list the records in OpenBao.
pub(crate) fn resolve_runtime_audit(
    raw: &RawTopology,
    file: &Path,
    src: &Source,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Desired, crate::runtime::profile::AuditTarget), Vec<Problem>> {
    let mut r = Resolver::new(src, file, env);
    let name = identity(&mut r, raw, file);
    let mut desired = empty_desired(file, name, src);
    if let Some(ob) = &raw.openbao {
        super::openbao::connection(&mut r, &ob.value, &mut desired);
    }
    let target =
        super::runtime::audit_target(&mut r, raw.runtime.as_ref(), file, &desired.ledger_mount);
    match target {
        Some(t) if r.problems.is_empty() => Ok((desired, t)),
        _ => Err(r.problems),
    }
}

/// Two declarations of one object (`approle` and `approle/` are the same mount; `a/b` and
/// `/a/b/` the same secret): the second is refused where it is written.
fn duplicates(r: &mut Resolver, desired: &Desired) {
    let mut first: BTreeMap<&Address, &DesiredResource> = BTreeMap::new();
    for res in &desired.resources {
        match first.get(&res.address) {
            None => {
                first.insert(&res.address, res);
            }
            Some(earlier) => {
                let at = earlier
                    .loc
                    .map(|l| format!(" (first declared on line {})", l.line))
                    .unwrap_or_default();
                r.problem(
                    res.loc.unwrap_or_default(),
                    format!("{} is declared twice{at}", res.address),
                    "paths are compared without leading and trailing slashes: keep one declaration"
                        .to_string(),
                );
            }
        }
    }
}

/// Checks a name or path that goes into a URL; a problem where it is written when it cannot.
pub(super) fn check_name(r: &mut Resolver, loc: Loc, what: &str, name: &str) -> bool {
    match crate::backends::path::check_path(name) {
        None => true,
        Some(why) => {
            r.problem(
                loc,
                format!("{what} `{}` has {why}", name.escape_debug()),
                "names go into OpenBao's URLs as data: use names without empty, `.` or `..` segments and without control characters".to_string(),
            );
            false
        }
    }
}
