//! Declared fields checked against the parameters OpenBao publishes, before any write.
//!
//! OpenBao accepts a write with a parameter it does not know and ignores it, so a typo such as
//! `token_tll: 1h` would plan as converged forever. Each kind says where its parameters are
//! published ([`FieldSource`]). When the server is the version the bundled snapshot was made
//! from (one `sys/seal-status` per run tells), the snapshot answers for every endpoint it
//! covers; otherwise, and for endpoints it does not cover (external plugins), each
//! (mount type, endpoint) is asked once per run with `?help=1` on a live mount of that type (or
//! `sys/`), with the snapshot as the fallback. A declared field neither lists is an error with the
//! nearest valid name; the tables also give every field its type (durations, lists, booleans)
//! for the differ. Where no table is known at all (an external plugin not mounted yet), the
//! fields are not checked, and a warning says so.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::schema::{self, FieldTable, PROBE_NAME};
use super::{OpenBao, mount_root};
use crate::backends::path::ApiPath;
use crate::backends::{FieldSource, Kind, Registry};
use crate::model::{Address, Desired, DesiredResource, ResourceId};
use crate::plan::Observed;

/// One declared field the server does not know.
#[derive(Debug)]
pub struct Unknown {
    pub address: Address,
    pub field: String,
    pub endpoint: String,
    pub suggestion: Option<String>,
}

/// What the check found.
#[derive(Debug, Default)]
pub struct Report {
    pub unknown: Vec<Unknown>,
    /// Endpoints whose parameters are not known: their fields went unchecked.
    pub unchecked: BTreeSet<String>,
}

/// The schema's name for a mount type (`kv-v2` mounts are the `kv` backend's version 2).
fn backend_type(mount_type: &str) -> &str {
    if mount_type == "kv-v2" {
        "kv"
    } else {
        mount_type
    }
}

/// The concrete endpoint of a source for an object (`config/{name}` → `config/root`).
fn endpoint_of(source: &FieldSource, id: &ResourceId) -> String {
    if source.by_name {
        source.endpoint.replace("{name}", &id.name)
    } else {
        source.endpoint.to_owned()
    }
}

/// `?help=1` path for an endpoint: template placeholders become the probe name (`{type}`
/// becomes `secret`, the only kind of value the plugin catalog takes there).
fn probe(root: ApiPath, endpoint: &str) -> ApiPath {
    let mut p = root;
    for seg in endpoint.split('/') {
        p = match seg {
            "{type}" => p.name("secret"),
            s if s.starts_with('{') && s.ends_with('}') => p.name(PROBE_NAME),
            s => p.name(s),
        };
    }
    p.query("help", "1")
}

/// Where a live mount of a type is, to ask it: (namespace, mount path, auth?).
pub type MountRef = (String, String, bool);

/// The tables that apply to one object: (attribute prefix, "type endpoint", table).
pub type Tables = Vec<(&'static str, String, Arc<FieldTable>)>;

/// Reads tables once per (type, endpoint) and checks declared fields against them.
pub struct FieldCheck<'a> {
    bao: &'a Arc<OpenBao>,
    tables: BTreeMap<(String, String), Option<Arc<FieldTable>>>,
    report: Report,
    /// Whether the server is the bundled snapshot's version (asked once).
    same_version: Option<bool>,
}

impl<'a> FieldCheck<'a> {
    pub fn new(bao: &'a Arc<OpenBao>) -> Self {
        FieldCheck {
            bao,
            tables: BTreeMap::new(),
            report: Report::default(),
            same_version: None,
        }
    }

    async fn same_version(&mut self) -> bool {
        if let Some(v) = self.same_version {
            return v;
        }
        let version = self
            .bao
            .client
            .read("", &ApiPath::route("sys/seal-status"))
            .await
            .ok()
            .flatten()
            .and_then(|v| v.get("version").and_then(|x| x.as_str()).map(str::to_owned));
        let same = version.as_deref() == Some(schema::BUNDLED_OPENBAO_VERSION);
        self.same_version = Some(same);
        same
    }

    async fn table(
        &mut self,
        ty: &str,
        endpoint: &str,
        live: Option<&MountRef>,
    ) -> Option<Arc<FieldTable>> {
        let key = (ty.to_owned(), endpoint.to_owned());
        if let Some(t) = self.tables.get(&key) {
            return t.clone();
        }
        if let Some(bundled) = schema::bundled(ty, endpoint)
            && self.same_version().await
        {
            let table = Arc::new(bundled.clone());
            self.tables.insert(key, Some(Arc::clone(&table)));
            return Some(table);
        }
        let root = match (ty, live) {
            ("system", _) => Some(("".to_owned(), ApiPath::route("sys"))),
            (_, Some((ns, mount, auth))) => Some((ns.clone(), mount_root(*auth, mount))),
            _ => None,
        };
        let mut table = None;
        if let Some((ns, root)) = root
            && let Ok(Some(help)) = self.bao.client.read(&ns, &probe(root, endpoint)).await
        {
            table = schema::table_from_help(ty, endpoint, &help);
        }
        let table = table
            .or_else(|| schema::bundled(ty, endpoint).cloned())
            .map(Arc::new);
        if table.is_none() {
            self.report.unchecked.insert(format!("{ty} {endpoint}"));
        }
        self.tables.insert(key, table.clone());
        table
    }

    /// The tables of an object of `kind` under a mount of `mount_type` (a live mount of that
    /// type at `live`, to ask when the snapshot does not answer).
    pub async fn tables_for(
        &mut self,
        kind: &dyn Kind,
        id: &ResourceId,
        mount_type: Option<&str>,
        live: Option<&MountRef>,
    ) -> Tables {
        let mut tables = Vec::new();
        for source in kind.field_sources() {
            let endpoint = endpoint_of(source, id);
            let (ty, live) = if source.system {
                ("system", None)
            } else {
                let Some(t) = mount_type else { continue };
                (backend_type(t), live)
            };
            if let Some(t) = self.table(ty, &endpoint, live).await {
                tables.push((source.prefix, format!("{ty} {endpoint}"), t));
            }
        }
        tables
    }

    /// Checks every declared resource; fills in `types`. `observed` tells which mounts exist
    /// (to ask them about their own parameters).
    /// Whether checking `desired` needs live mounts to ask: only when the server is not the
    /// bundled snapshot's version, or an object's fields are published by a mount type the
    /// snapshot does not cover (an external plugin). Otherwise reading the mounts and
    /// namespaces first would only repeat the plan's own reads.
    pub async fn needs_live_mounts(&mut self, registry: &Registry, desired: &Desired) -> bool {
        if !self.same_version().await {
            return true;
        }
        let types: BTreeMap<ResourceId, &str> = desired
            .resources
            .iter()
            .filter(|r| r.id.kind == "mount" || r.id.kind == "auth")
            .filter_map(|r| Some((r.id.clone(), r.plain_str("type")?)))
            .collect();
        desired.resources.iter().any(|res| {
            let Some(kind) = registry.of(&res.id) else {
                return false;
            };
            let Some(ty) = kind.container(&res.id).and_then(|c| types.get(&c).copied()) else {
                return false;
            };
            kind.field_sources().iter().any(|src| {
                !src.system
                    && schema::bundled(backend_type(ty), &endpoint_of(src, &res.id)).is_none()
            })
        })
    }

    pub async fn check(
        mut self,
        registry: &Registry,
        desired: &mut Desired,
        observed: &Observed,
    ) -> Report {
        let mounts: BTreeMap<ResourceId, String> = desired
            .resources
            .iter()
            .filter(|r| r.id.kind == "mount" || r.id.kind == "auth")
            .filter_map(|r| Some((r.id.clone(), r.plain_str("type")?.to_owned())))
            .collect();
        // One live mount per type, to ask.
        let mut live_of_type: BTreeMap<String, MountRef> = BTreeMap::new();
        for (id, ty) in &mounts {
            if matches!(observed.live.get(&id.address()), Some(Some(_))) {
                live_of_type
                    .entry(ty.clone())
                    .or_insert_with(|| (id.namespace.clone(), id.name.clone(), id.kind == "auth"));
            }
        }
        let mut results = Vec::new();
        for (i, res) in desired.resources.iter().enumerate() {
            let Some(kind) = registry.of(&res.id) else {
                continue;
            };
            let mount_type = kind
                .container(&res.id)
                .and_then(|c| mounts.get(&c).cloned());
            let live = mount_type
                .as_ref()
                .and_then(|t| live_of_type.get(t).cloned());
            let tables = self
                .tables_for(kind.as_ref(), &res.id, mount_type.as_deref(), live.as_ref())
                .await;
            results.push((i, judge(kind.as_ref(), res, &tables)));
        }
        for (i, (types, unknown)) in results {
            let res = &mut desired.resources[i];
            res.types = types;
            self.report
                .unknown
                .extend(
                    unknown
                        .into_iter()
                        .map(|(field, endpoint, suggestion)| Unknown {
                            address: res.address.clone(),
                            field,
                            endpoint,
                            suggestion,
                        }),
                );
        }
        self.report
    }
}

type Judged = (
    BTreeMap<String, schema::FieldType>,
    Vec<(String, String, Option<String>)>,
);

/// Whether `tables` know `field` (or cannot judge it): what import keeps of a live object.
pub fn known(tables: &Tables, field: &str) -> bool {
    let Some(len) = tables
        .iter()
        .filter(|(p, _, _)| field.starts_with(p))
        .map(|(p, _, _)| p.len())
        .max()
    else {
        return true;
    };
    let name = &field[len..];
    let head = name.split('.').next().unwrap_or(name);
    tables
        .iter()
        .filter(|(p, _, _)| p.len() == len)
        .any(|(_, _, t)| t.open || t.get(head).is_some())
}

/// Types of the declared fields, and those no table knows (field, endpoint, nearest name).
fn judge(kind: &dyn Kind, res: &DesiredResource, tables: &Tables) -> Judged {
    let mut types = BTreeMap::new();
    let mut unknown = Vec::new();
    if tables.is_empty() {
        return (types, unknown);
    }
    for field in res.attrs.keys() {
        if kind.own_fields().contains(&field.as_str()) {
            continue;
        }
        // The longest prefix that applies (`tune.` before ``).
        let best = tables
            .iter()
            .filter(|(p, _, _)| field.starts_with(p))
            .map(|(p, _, _)| p.len())
            .max();
        let Some(len) = best else { continue };
        let name = &field[len..];
        let applicable: Vec<&(&str, String, Arc<FieldTable>)> =
            tables.iter().filter(|(p, _, _)| p.len() == len).collect();
        // `options.version`: a field of a map-typed parameter; the map's keys are free.
        let head = name.split('.').next().unwrap_or(name);
        if let Some(t) = applicable.iter().find_map(|(_, _, t)| t.get(head)) {
            if head == name {
                types.insert(field.clone(), t);
            }
            continue;
        }
        if applicable.iter().any(|(_, _, t)| t.open) {
            continue;
        }
        let suggestion = applicable
            .iter()
            .find_map(|(p, _, t)| t.suggest(name).map(|s| format!("{p}{s}")));
        let endpoint = applicable
            .iter()
            .map(|(_, e, _)| e.clone())
            .collect::<Vec<_>>()
            .join(", ");
        unknown.push((field.clone(), endpoint, suggestion));
    }
    (types, unknown)
}
