//! OpenBao: the connection shared by its kinds, the per-run mount-table cache, and the kinds.
//!
//! Mounts are read from one `GET sys/mounts` (and `sys/auth`) per namespace per run rather than
//! one request per mount, which keeps a plan near one request per object.

pub mod approle_role;
pub mod audit_device;
pub mod aws_role;
/// The request body type moved to `backends::body` (Keycloak uses it too); kept here by name.
pub use crate::backends::body;
pub mod client;
pub mod consistency;
pub mod database_connection;
pub mod database_role;
pub mod database_static_role;
pub mod error;
pub mod fields;
pub mod ha;
pub mod jwt_role;
pub mod kv_metadata;
pub mod kv_secret;
pub mod mount;
pub mod mount_config;
pub mod namespace;
pub mod path_kind;
pub mod plugin;
pub mod policy;
pub mod schema;
pub mod transit_key;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::OnceCell;

use super::Registry;
use super::path::ApiPath;
pub use client::{BaoClient, BaoError, Body};

/// Which mount table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Table {
    Secrets,
    Auth,
}

type TableCell = Arc<OnceCell<Arc<serde_json::Map<String, Value>>>>;

/// An OpenBao connection plus what a run caches about it.
pub struct OpenBao {
    pub client: BaoClient,
    tables: Mutex<HashMap<(String, Table), TableCell>>,
}

impl OpenBao {
    pub fn new(client: BaoClient) -> Self {
        OpenBao {
            client,
            tables: Mutex::new(HashMap::new()),
        }
    }

    /// The mount table of a namespace, keyed by path without the trailing slash. Read once per
    /// run (until [`OpenBao::forget_tables`]).
    pub async fn table(
        &self,
        ns: &str,
        which: Table,
    ) -> Result<Arc<serde_json::Map<String, Value>>, BaoError> {
        let cell = {
            let mut tables = self
                .tables
                .lock()
                .map_err(|_| BaoError::Setup("mount table cache poisoned".into()))?;
            Arc::clone(tables.entry((ns.to_owned(), which)).or_default())
        };
        let table = cell
            .get_or_try_init(|| async {
                let path = match which {
                    Table::Secrets => ApiPath::route("sys/mounts"),
                    Table::Auth => ApiPath::route("sys/auth"),
                };
                let resp = self.client.read(ns, &path).await?.unwrap_or(Value::Null);
                // Newer servers answer under `data`; older ones at the top level as well.
                let obj = resp
                    .get("data")
                    .and_then(Value::as_object)
                    .or_else(|| resp.as_object())
                    .cloned()
                    .unwrap_or_default();
                let mut out = serde_json::Map::new();
                for (k, v) in obj {
                    if v.get("type").is_some() {
                        out.insert(k.trim_end_matches('/').to_owned(), v);
                    }
                }
                Ok::<_, BaoError>(Arc::new(out))
            })
            .await?;
        Ok(Arc::clone(table))
    }

    /// Drops the cached mount tables of one namespace, after writes that change them (other
    /// namespaces' tables stay: a 500-namespace apply must not re-read them all).
    pub fn forget_tables(&self, ns: &str) {
        if let Ok(mut t) = self.tables.lock() {
            t.retain(|(n, _), _| n != ns);
        }
    }

    /// The mount at `path` in a namespace's secrets table (`None` when absent).
    pub async fn mount_entry(&self, ns: &str, path: &str) -> Result<Option<Value>, BaoError> {
        Ok(self.table(ns, Table::Secrets).await?.get(path).cloned())
    }
}

/// Registers every OpenBao kind.
pub fn register(r: &mut Registry, bao: Arc<OpenBao>) {
    r.add(Arc::new(mount::Mount::new(
        Arc::clone(&bao),
        Table::Secrets,
    )));
    r.add(Arc::new(mount::Mount::new(Arc::clone(&bao), Table::Auth)));
    r.add(Arc::new(namespace::Namespace::new(Arc::clone(&bao))));
    r.add(Arc::new(plugin::Plugin::new(Arc::clone(&bao))));
    r.add(Arc::new(policy::Policy::new(Arc::clone(&bao))));
    r.add(Arc::new(approle_role::kind(Arc::clone(&bao))));
    r.add(Arc::new(audit_device::AuditDevice::new(Arc::clone(&bao))));
    r.add(Arc::new(jwt_role::kind(Arc::clone(&bao))));
    r.add(Arc::new(mount_config::auth_config(Arc::clone(&bao))));
    r.add(Arc::new(database_connection::DatabaseConnection::new(
        Arc::clone(&bao),
    )));
    r.add(Arc::new(database_role::kind(Arc::clone(&bao))));
    r.add(Arc::new(database_static_role::kind(Arc::clone(&bao))));
    r.add(Arc::new(aws_role::kind(Arc::clone(&bao))));
    r.add(Arc::new(mount_config::aws_config(Arc::clone(&bao))));
    r.add(Arc::new(transit_key::TransitKey::new(Arc::clone(&bao))));
    r.add(Arc::new(kv_metadata::KvMetadata::new(Arc::clone(&bao))));
    r.add(Arc::new(kv_secret::KvSecret::new(bao)));
}

/// Builds a request body from declared attributes: plain values as they are, secrets exposed
/// and remembered for scrubbing. `strip` removes a prefix from the attribute names (`tune.`).
pub fn body_from<'a>(
    attrs: impl Iterator<Item = (&'a String, &'a crate::model::AttrValue)>,
    strip: &str,
) -> Body {
    let mut map = serde_json::Map::new();
    let mut secrets = Vec::new();
    for (k, v) in attrs {
        let key = k.strip_prefix(strip).unwrap_or(k).to_owned();
        let wire = v.to_wire();
        if v.is_secret() {
            secrets.push(wire.clone());
        }
        map.insert(key, wire);
    }
    let mut body = Body::new(Value::Object(map));
    for s in &secrets {
        body = body.with_secret_value(s);
    }
    body
}

/// The path of a mount in its table's API: `sys/mounts/PATH` or `sys/auth/PATH`.
pub fn sys_path(which: Table, mount: &str) -> ApiPath {
    match which {
        Table::Secrets => ApiPath::route("sys/mounts").path(mount),
        Table::Auth => ApiPath::route("sys/auth").path(mount),
    }
}

/// The root of a mount's own API: `PATH` or `auth/PATH`.
pub fn mount_root(auth: bool, mount: &str) -> ApiPath {
    if auth {
        ApiPath::route("auth").path(mount)
    } else {
        ApiPath::route("").path(mount)
    }
}
