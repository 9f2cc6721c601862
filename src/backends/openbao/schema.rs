//! OpenBao's own parameter schemas, so a declared field the server does not know is an error
//! (a typo like `token_tll: 1h` is otherwise accepted with 204 and ignored, and the object plans
//! as converged forever), and so field types (durations, lists, booleans) come from the server
//! rather than from guesses on field names.
//!
//! The source is `GET <concrete path>?help=1`, which answers with an OpenAPI document of the one
//! route that path matches: the POST (else PUT) request body schema lists the writable fields.
//! The global document (`sys/internal/specs/openapi`) is not usable: it names request schemas
//! after the plugin and operation only, so distinct routes collide. On 2.7.2 the jwt plugin's
//! `role/{name}` and `cel/role/{name}` both reference `JwtWriteRoleRequest`, and the component
//! holds only the CEL role's six fields (`role_type`, `user_claim`, `token_*` are missing). The
//! per-path answer resolves its `$ref` against its own components, so it is right.
//!
//! The published schemas are wrong in a few places that matter here; those are corrected in
//! one place, [`apply_overrides`]. A snapshot for [`BUNDLED_OPENBAO_VERSION`] ships in
//! `schema/openbao-VERSION.json` for the endpoints aegisctl writes ([`ENDPOINTS`]); the
//! integration test `tests/it/schema.rs` checks it against a real server and regenerates it
//! with `AEGIS_UPDATE_SCHEMA=1`.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The OpenBao version the bundled snapshot was generated from.
pub const BUNDLED_OPENBAO_VERSION: &str = "2.7.2";

/// The snapshot itself; the generator writes it from the file name derived from the version.
const BUNDLED_JSON: &str = include_str!("schema/openbao-2.7.2.json");

/// The endpoints aegisctl writes, as (backend type, endpoint template): exactly what the bundled
/// snapshot covers. The type is the mount type, or `system` for `sys/` paths; `kv` is kv v2.
pub const ENDPOINTS: &[(&str, &str)] = &[
    ("system", "mounts/{path}"),
    ("system", "mounts/{path}/tune"),
    ("system", "auth/{path}"),
    ("system", "auth/{path}/tune"),
    ("system", "audit/{path}"),
    ("system", "plugins/catalog/{type}/{name}"),
    ("system", "namespaces/{path}"),
    ("system", "policies/acl/{name}"),
    ("approle", "role/{name}"),
    ("jwt", "role/{name}"),
    ("jwt", "config"),
    ("oidc", "role/{name}"),
    ("oidc", "config"),
    ("database", "config/{name}"),
    ("database", "roles/{name}"),
    ("database", "static-roles/{name}"),
    ("transit", "keys/{name}"),
    ("transit", "keys/{name}/config"),
    ("kv", "metadata/{path}"),
    ("kv", "config"),
];

/// Auth method types: their mounts live under `auth/`. `kubernetes` is both an auth method and
/// a secrets engine, so it is not listed: pass its auth mount path with the `auth/` prefix.
const AUTH_TYPES: &[&str] = &[
    "approle", "cert", "jwt", "kerberos", "ldap", "oidc", "radius", "token", "userpass",
];

/// The name put in every `{...}` segment of a probe path: help is answered whether or not the
/// object exists, the name only has to match the route's pattern, and this one matches all the
/// name and path patterns of [`ENDPOINTS`] without colliding with a real object.
pub const PROBE_NAME: &str = "aegisctl-probe";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    Duration,
    Bool,
    Int,
    String,
    List,
    Map,
}

impl FieldType {
    /// From one OpenAPI property, as OpenBao's framework publishes its field types.
    fn from_property(p: &Value) -> FieldType {
        let ty = p.get("type").and_then(Value::as_str);
        let format = p.get("format").and_then(Value::as_str);
        match (ty, format) {
            // TypeDurationSecond and TypeSignedDurationSecond: "1h" or 3600.
            (Some("integer"), Some("seconds")) => FieldType::Duration,
            (Some("integer"), _) => FieldType::Int,
            (Some("boolean"), _) => FieldType::Bool,
            // Comma-separated string slices, int slices and lists of objects alike.
            (Some("array"), _) => FieldType::List,
            // `format` is `map` (TypeMap) or `kvpairs` (TypeKVPairs).
            (Some("object"), _) => FieldType::Map,
            // `string`, plus what has no better equivalent here (`number`, used by no endpoint
            // aegisctl writes; a property without a type): passed on as declared.
            _ => FieldType::String,
        }
    }
}

/// The writable parameters of one endpoint.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FieldTable {
    pub fields: BTreeMap<String, FieldType>,
    /// The endpoint passes fields it does not list to a plugin (database `config/{name}`):
    /// unknown fields cannot be judged.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub open: bool,
}

impl FieldTable {
    /// From the JSON body of `GET <path>?help=1`: the POST (else PUT) request body schema of the
    /// single path in `openapi.paths`, `$ref` resolved against `openapi.components.schemas`;
    /// `None` when there is none. Some concrete paths match two routes (a plugin catalog entry
    /// also matches `plugins/catalog/{name}`): that is ambiguous, use [`FieldTable::from_help_for`].
    pub fn from_help(help: &Value) -> Option<FieldTable> {
        let paths = help.get("openapi")?.get("paths")?.as_object()?;
        let mut items = paths.values();
        match (items.next(), items.next()) {
            (Some(item), None) => from_path_item(help, item),
            _ => None,
        }
    }

    /// As [`FieldTable::from_help`], taking the path whose shape is `endpoint` (parameter names
    /// aside: `role/{name}` matches `/role/{role_name}`). A path of another shape (a kv v1 mount
    /// asked for `metadata/{path}` answers with its catch-all `/{path}`) gives `None`.
    pub fn from_help_for(help: &Value, endpoint: &str) -> Option<FieldTable> {
        let paths = help.get("openapi")?.get("paths")?.as_object()?;
        let want = shape(endpoint);
        let (_, item) = paths.iter().find(|(k, _)| shape(k) == want)?;
        from_path_item(help, item)
    }

    pub fn get(&self, field: &str) -> Option<FieldType> {
        self.fields.get(field).copied()
    }

    /// The declared-field check: `Ok(())` when the field is known or the table is open, else
    /// `Err` with the nearest valid name if one is close enough to be the intended one.
    pub fn check(&self, field: &str) -> Result<(), Option<&str>> {
        if self.open || self.fields.contains_key(field) {
            Ok(())
        } else {
            Err(self.suggest(field))
        }
    }

    /// The valid name nearest to `unknown`, only when it is a plausible typo: optimal string
    /// alignment distance (a transposition counts once) at most `max(2, len/3)` and less than the
    /// length, case and `-`/`_` ignored. Ties go to the first name alphabetically.
    pub fn suggest(&self, unknown: &str) -> Option<&str> {
        let want: Vec<char> = normalise(unknown);
        let len = want.len();
        // Below the length, or a short name would "match" any name of its length.
        let limit = (len / 3).max(2).min(len.saturating_sub(1));
        self.fields
            .keys()
            .map(|k| (distance(&want, &normalise(k)), k))
            .filter(|(d, _)| *d <= limit)
            .min_by_key(|(d, _)| *d)
            .map(|(_, k)| k.as_str())
    }
}

fn from_path_item(help: &Value, item: &Value) -> Option<FieldTable> {
    let op = item.get("post").or_else(|| item.get("put"))?;
    let schema = op
        .get("requestBody")?
        .get("content")?
        .get("application/json")?
        .get("schema")?;
    let props = resolve(help, schema)?.get("properties")?.as_object()?;
    let fields = props
        .iter()
        .map(|(name, p)| {
            let p = resolve(help, p).unwrap_or(p);
            (name.clone(), FieldType::from_property(p))
        })
        .collect();
    Some(FieldTable {
        fields,
        open: false,
    })
}

/// Follows `$ref`s into `openapi.components.schemas`. A bounded number of hops, so a reference
/// cycle in a malformed answer ends with `None` instead of looping.
fn resolve<'a>(help: &'a Value, mut schema: &'a Value) -> Option<&'a Value> {
    for _ in 0..8 {
        let Some(reference) = schema.get("$ref") else {
            return Some(schema);
        };
        let name = reference.as_str()?.strip_prefix("#/components/schemas/")?;
        schema = help
            .get("openapi")?
            .get("components")?
            .get("schemas")?
            .get(name)?;
    }
    None
}

/// A route without its leading slash and with every parameter name blanked.
fn shape(route: &str) -> String {
    route
        .trim_start_matches('/')
        .split('/')
        .map(|seg| {
            if seg.starts_with('{') && seg.ends_with('}') {
                "{}"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn normalise(name: &str) -> Vec<char> {
    name.chars()
        .map(|c| {
            if c == '-' {
                '_'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

/// Optimal string alignment distance: Levenshtein plus adjacent transpositions.
fn distance(a: &[char], b: &[char]) -> usize {
    // Three rows: two back (for transpositions), previous, current.
    let mut two_back: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(two_back[j - 2] + 1);
            }
            cur[j] = d;
        }
        two_back = std::mem::replace(&mut prev, cur);
    }
    prev[b.len()]
}

/// Where OpenBao's published schema is wrong about an endpoint aegisctl writes, corrected. Applied
/// to every table read from a server, and so to the bundled snapshot (the generator runs it).
pub fn apply_overrides(backend_type: &str, endpoint: &str, table: &mut FieldTable) {
    match (backend_type, endpoint) {
        // Tune publishes the TTLs as `string` because its handler parses them itself: besides a
        // duration ("1h" or 3600) it takes `system`, reset to the system default. They are
        // durations; whoever normalises durations must let `system` through.
        ("system", "mounts/{path}/tune" | "auth/{path}/tune") => {
            for f in ["default_lease_ttl", "max_lease_ttl"] {
                if let Some(t) = table.fields.get_mut(f) {
                    *t = FieldType::Duration;
                }
            }
        }
        // The schema lists only the engine's generic fields; everything else (connection_url,
        // username, password, max_open_connections, ...) goes to the database plugin, which
        // publishes nothing. Unknown fields cannot be judged there.
        ("database", "config/{name}") => table.open = true,
        // LIST pagination parameters ("Only used for listing") published as write fields: a
        // write with them is accepted and ignored, the very silent no-op this check catches.
        ("kv", "metadata/{path}") => {
            table.fields.remove("after");
            table.fields.remove("limit");
        }
        _ => {}
    }
}

/// The table of `endpoint` from a `?help=1` answer, overrides applied: what a server of another
/// version than the bundled one should be asked for, once per run and mount type.
pub fn table_from_help(backend_type: &str, endpoint: &str, help: &Value) -> Option<FieldTable> {
    let mut table = FieldTable::from_help_for(help, endpoint)?;
    apply_overrides(backend_type, endpoint, &mut table);
    Some(table)
}

/// The concrete path to ask `?help=1` for: every `{...}` segment filled with [`PROBE_NAME`]
/// (`{type}` with `secret`, the only values the plugin catalog accepts there being plugin
/// types), under `sys/` for `system`, under `auth/MOUNT/` for auth method types, else `MOUNT/`.
/// `mount_path` is ignored for `system`; given with an `auth/` prefix it is taken as it is.
pub fn probe_path(backend_type: &str, endpoint: &str, mount_path: &str) -> String {
    let concrete = endpoint
        .split('/')
        .map(|seg| match seg {
            "{type}" => "secret",
            s if s.starts_with('{') && s.ends_with('}') => PROBE_NAME,
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/");
    let mount = mount_path.trim_matches('/');
    if backend_type == "system" {
        format!("sys/{concrete}")
    } else if AUTH_TYPES.contains(&backend_type) && !mount.starts_with("auth/") {
        format!("auth/{mount}/{concrete}")
    } else {
        format!("{mount}/{concrete}")
    }
}

/// The field tables of one OpenBao version: backend type → endpoint template → table.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub openbao_version: String,
    pub tables: BTreeMap<String, BTreeMap<String, FieldTable>>,
}

impl Snapshot {
    /// Pretty JSON with sorted keys (maps are B-trees, struct fields are in alphabetical order),
    /// so a regenerated snapshot diffs line by line.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self).map(|s| s + "\n")
    }
}

/// The bundled snapshot, parsed once. `None` only if the file does not parse, which a unit test
/// rules out; callers then fall back to asking the server.
pub fn bundled_snapshot() -> Option<&'static Snapshot> {
    static BUNDLE: OnceLock<Option<Snapshot>> = OnceLock::new();
    BUNDLE
        .get_or_init(|| serde_json::from_str(BUNDLED_JSON).ok())
        .as_ref()
}

/// The bundled table of one of [`ENDPOINTS`].
pub fn bundled(backend_type: &str, endpoint: &str) -> Option<&'static FieldTable> {
    bundled_snapshot()?.tables.get(backend_type)?.get(endpoint)
}

#[cfg(test)]
mod tests;
