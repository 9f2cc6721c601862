//! The traits every backend implements, and the registry the engine looks kinds up in.
//!
//! The engine (observe, diff, apply, drift, the prune guard) only knows [`Kind`]: read one
//! object, create, update, delete, list what exists, and the facts a kind declares about itself
//! (what cannot change in place, what destroys data, what contains what, its lane, what it
//! produces). Adding a resource kind is one new file implementing it plus one line in its
//! backend's `register` (`openbao::register`, `keycloak::kinds::register`); the engine does not
//! change.

pub mod body;
pub mod http;
pub mod infisical;
pub mod keycloak;
pub mod live;
pub mod openbao;
pub mod path;
pub mod spec;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use crate::model::{AttrValue, Backend, DesiredResource, ResourceId};
use crate::sensitive::Sensitive;
pub use live::{Live, SecretJson};
pub mod error;
pub use error::BackendError;
pub use openbao::client::BaoError;

/// What a container holds, as the kinds can list it: a namespace (everything inside it), or a
/// mount (its objects; `mount` is the mount as a declared resource with its `type`).
#[derive(Clone, Debug)]
pub enum Holds {
    Namespace(String),
    Mount {
        namespace: String,
        mount: Box<DesiredResource>,
    },
}

/// Where OpenBao publishes the parameters of some of a kind's fields: the attributes starting
/// with `prefix` (`""` for plain fields, `tune.` for a mount's tune) are parameters of
/// `endpoint` (a template of `backends::openbao::schema::ENDPOINTS`), an endpoint of the system
/// backend (`sys/`) or of the mount the object lives in. `by_name`: the object's name is part of
/// the endpoint (`config/root`, `config/lease`).
#[derive(Clone, Copy, Debug)]
pub struct FieldSource {
    pub prefix: &'static str,
    pub endpoint: &'static str,
    pub system: bool,
    pub by_name: bool,
}

impl FieldSource {
    pub const fn of_mount(endpoint: &'static str) -> FieldSource {
        FieldSource {
            prefix: "",
            endpoint,
            system: false,
            by_name: false,
        }
    }
    pub const fn of_system(prefix: &'static str, endpoint: &'static str) -> FieldSource {
        FieldSource {
            prefix,
            endpoint,
            system: true,
            by_name: false,
        }
    }
}

/// The namespace that directly contains objects of `namespace` (`a/b` is held by `a`).
pub fn namespace_container(namespace: &str) -> Option<ResourceId> {
    if namespace.is_empty() {
        return None;
    }
    let (parent, name) = namespace.rsplit_once('/').unwrap_or(("", namespace));
    Some(ResourceId::new(parent, "namespace", None, name))
}

/// One resource kind of one backend.
#[async_trait]
pub trait Kind: Send + Sync {
    /// The kind's name in addresses, e.g. `policy`.
    fn name(&self) -> &'static str;

    /// The facts the kind declares about itself and its fields ([`spec::KindSpec`]).
    fn spec(&self) -> &'static spec::KindSpec {
        &spec::OPENBAO
    }

    /// The server this kind lives on (its objects' ids carry it too).
    fn backend(&self) -> Backend {
        Backend::OpenBao
    }

    /// Attributes that cannot change in place: a change means replace (`-/+`). `prefix.*`
    /// covers a group.
    fn immutable(&self) -> &'static [&'static str] {
        &[]
    }

    /// Whether changing `field` from `live` to `desired` needs a replace. By default, whether
    /// it is immutable; a kind refines this where some changes of an immutable field are
    /// in-place (a kv v1 mount upgraded to v2).
    fn forces_replace(&self, field: &str, _live: &Value, _desired: &Value) -> bool {
        self.immutable().iter().any(|f| match f.strip_suffix('*') {
            Some(prefix) => field.starts_with(prefix),
            None => *f == field,
        })
    }

    /// Whether a replace destroys data that cannot be recreated (key material, stored secrets);
    /// such a replace needs `--allow-destroy`.
    fn replace_destroys_data(&self) -> bool {
        true
    }

    /// Whether deleting the object destroys data that cannot be recreated (a Transit key's key
    /// material); such a deletion needs `--allow-destroy`.
    fn delete_destroys_data(&self) -> bool {
        false
    }

    /// Writes the server cannot take concurrently share a lane: the executor runs one change of
    /// a lane at a time (Keycloak's realm-level settings and identity providers, per realm).
    fn lane(&self, _id: &ResourceId) -> Option<String> {
        None
    }

    /// The lane of one change: [`Kind::lane`], unless creating or deleting the object is
    /// something the server does one at a time across all objects of the kind (Keycloak
    /// creates realms under a global lock: many at once only queue until they time out).
    fn lane_of_change(&self, id: &ResourceId, action: crate::plan::Action) -> Option<String> {
        let _ = action;
        self.lane(id)
    }

    /// What a deletion or a replace destroys, for the message that asks for `--allow-destroy`
    /// (see [`Kind::delete_destroys_data`], [`Kind::replace_destroys_data`]).
    fn data_lost(&self) -> &'static str {
        "its data (key material, stored secrets)"
    }

    /// Order among deletions: lower goes first (children before their mounts).
    fn destroy_order(&self) -> u8 {
        50
    }

    /// The object whose deletion deletes this one: its mount, or its namespace. Kinds under an
    /// auth mount, and kinds that live nowhere in particular, say so.
    fn container(&self, id: &ResourceId) -> Option<ResourceId> {
        match &id.mount {
            Some(m) => Some(ResourceId::new(&id.namespace, "mount", None, m)),
            None => namespace_container(&id.namespace),
        }
    }

    /// For a container: where its contents are listed. `live` is the container as read.
    fn holds(&self, _id: &ResourceId, _live: &Live) -> Option<Holds> {
        None
    }

    /// Where the server publishes this kind's parameters, to check declared fields against
    /// them and learn their types. Fields no source covers are not checked (free-form data
    /// such as a KV secret's keys or a mount's `options`).
    fn field_sources(&self) -> &'static [FieldSource] {
        &[]
    }

    /// Fields that are aegisctl's own, never sent to the server (`rotate_root`).
    fn own_fields(&self) -> &'static [&'static str] {
        &[]
    }

    /// Declared fields that are only sent at creation and never compared afterwards (a root
    /// password that `rotate_root` has since replaced on the server).
    fn fixed_after_create(&self, _res: &DesiredResource) -> Vec<&'static str> {
        Vec::new()
    }

    /// Fields the server answers only in a redacted form (a connection URL with a password in
    /// it): compared through their fingerprint, like fields it does not answer at all.
    fn write_only(&self, field: &str, _value: &AttrValue) -> bool {
        self.spec().write_only.has(field)
    }

    /// Whether values compare with their exact JSON types (opaque data such as a KV secret's,
    /// where `42` is not `"42"`) instead of the server-field rules (numbers and numeric
    /// strings alike, durations in seconds).
    fn exact_types(&self) -> bool {
        false
    }

    /// When the server will not accept this object through its API, what the operator must do
    /// instead (an audit device's server-config stanza). Asked for creates and replaces.
    async fn manual_step(&self, _res: &DesiredResource) -> Result<Option<String>, BackendError> {
        Ok(None)
    }

    /// Normalises a value of `field` (live or desired) before comparison.
    fn normalise(&self, _field: &str, value: Value) -> Value {
        value
    }

    /// Before `ids` (all of this kind, in one scope) are read one by one: a kind that can read
    /// them in bulk does so here and answers the reads from what it found.
    async fn prefetch(&self, _scope: &str, _ids: &[&ResourceId]) -> Result<(), BackendError> {
        Ok(())
    }

    /// Reads one object; `None` when it does not exist.
    async fn read(&self, id: &ResourceId) -> Result<Option<Live>, BackendError>;

    /// Creates the object; what the server made that the file could not say (a generated
    /// client secret) comes back as [`Made`].
    async fn create(&self, res: &DesiredResource) -> Result<Made, BackendError>;

    /// A value the object produces that other objects may take (output references): a
    /// Keycloak client's `secret`. Read from the server when no create just returned it.
    async fn output(
        &self,
        _id: &ResourceId,
        _name: &str,
    ) -> Result<Option<Sensitive<SecretJson>>, BackendError> {
        Ok(None)
    }

    /// Updates the `changed` attributes of an existing object.
    async fn update(
        &self,
        res: &DesiredResource,
        changed: &BTreeSet<String>,
        live: &Live,
    ) -> Result<(), BackendError>;

    async fn delete(&self, id: &ResourceId) -> Result<(), BackendError>;

    /// Lists the objects of this kind that exist in the places the topology manages (its mounts
    /// in `namespace`), built-ins excluded. `desired` is everything declared in that namespace.
    async fn list(
        &self,
        namespace: &str,
        desired: &[&DesiredResource],
    ) -> Result<Vec<ResourceId>, BackendError>;
}

/// What a create made that the declaration could not say: generated values, by output name,
/// sensitive from the moment they are read.
#[derive(Debug, Default)]
pub struct Made {
    pub outputs: BTreeMap<String, Sensitive<SecretJson>>,
}

impl Made {
    pub fn none() -> Made {
        Made::default()
    }
}

/// The kinds known to this run, by name.
#[derive(Clone, Default)]
pub struct Registry {
    kinds: BTreeMap<Backend, BTreeMap<&'static str, Arc<dyn Kind>>>,
}

impl Registry {
    pub fn add(&mut self, kind: Arc<dyn Kind>) {
        self.kinds
            .entry(kind.backend())
            .or_default()
            .insert(kind.name(), kind);
    }

    /// The kind `name` of `backend`.
    pub fn get(&self, backend: Backend, name: &str) -> Option<&Arc<dyn Kind>> {
        self.kinds.get(&backend)?.get(name)
    }

    /// The kind of an object.
    pub fn of(&self, id: &ResourceId) -> Option<&Arc<dyn Kind>> {
        self.get(id.backend, &id.kind)
    }

    pub fn all(&self) -> impl Iterator<Item = &Arc<dyn Kind>> {
        self.kinds.values().flat_map(BTreeMap::values)
    }

    /// Every OpenBao kind, sharing one connection.
    pub fn openbao(bao: Arc<openbao::OpenBao>) -> Self {
        let mut r = Registry::default();
        openbao::register(&mut r, bao);
        r
    }

    /// The container of `id`, per its kind.
    pub fn container(&self, id: &ResourceId) -> Option<ResourceId> {
        self.of(id).and_then(|k| k.container(id))
    }
}
