//! The traits every backend implements, and the registry the engine looks kinds up in.
//!
//! The engine (observe, diff, apply, drift) only knows [`Kind`]: read one object, create, update,
//! delete, list what exists. Adding a resource kind is one new file implementing it plus one line
//! in [`Registry::openbao`]; the engine does not change.

pub mod http;
pub mod openbao;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use crate::model::{DesiredResource, ResourceId};
pub use openbao::client::BaoError;

/// A live object as the kind flattens it: the server's field names (nested settings as dotted
/// names such as `tune.default_lease_ttl`), values as the server answered them.
pub type Live = serde_json::Map<String, Value>;

/// One resource kind of one backend.
#[async_trait]
pub trait Kind: Send + Sync {
    /// The kind's name in addresses, e.g. `policy`.
    fn name(&self) -> &'static str;

    /// Attributes that cannot change in place: a change means replace (`-/+`).
    fn immutable(&self) -> &'static [&'static str] {
        &[]
    }

    /// Whether a replace destroys data that cannot be recreated (key material, stored secrets);
    /// such a replace needs `--allow-destroy`.
    fn replace_destroys_data(&self) -> bool {
        true
    }

    /// Order among deletions: lower goes first (children before their mounts).
    fn destroy_order(&self) -> u8 {
        50
    }

    /// Declared fields that are only sent at creation and never compared afterwards (a root
    /// password that `rotate_root` has since replaced on the server).
    fn fixed_after_create(&self, _res: &DesiredResource) -> Vec<&'static str> {
        Vec::new()
    }

    /// When the server will not accept this object through its API, what the operator must do
    /// instead (an audit device's server-config stanza). Asked for creates and replaces.
    async fn manual_step(&self, _res: &DesiredResource) -> Result<Option<String>, BaoError> {
        Ok(None)
    }

    /// Why deleting this object must be refused even though the plan asks for it (a namespace
    /// that still holds objects aegisctl does not manage), given every address the same plan
    /// deletes. Checked before any change is made.
    async fn refuse_delete(
        &self,
        _id: &ResourceId,
        _deleting: &BTreeSet<crate::model::Address>,
    ) -> Result<Option<String>, BaoError> {
        Ok(None)
    }

    /// Normalises a value of `field` (live or desired) before comparison.
    fn normalise(&self, _field: &str, value: Value) -> Value {
        value
    }

    /// Reads one object; `None` when it does not exist.
    async fn read(&self, id: &ResourceId) -> Result<Option<Live>, BaoError>;

    async fn create(&self, res: &DesiredResource) -> Result<(), BaoError>;

    /// Updates the `changed` attributes of an existing object.
    async fn update(
        &self,
        res: &DesiredResource,
        changed: &BTreeSet<String>,
        live: &Live,
    ) -> Result<(), BaoError>;

    async fn delete(&self, id: &ResourceId) -> Result<(), BaoError>;

    /// Lists the objects of this kind that exist in the places the topology manages (its mounts
    /// in `namespace`), built-ins excluded. `desired` is everything declared in that namespace.
    async fn list(
        &self,
        namespace: &str,
        desired: &[&DesiredResource],
    ) -> Result<Vec<ResourceId>, BaoError>;
}

/// The kinds known to this run, by name.
#[derive(Clone, Default)]
pub struct Registry {
    kinds: BTreeMap<&'static str, Arc<dyn Kind>>,
}

impl Registry {
    pub fn add(&mut self, kind: Arc<dyn Kind>) {
        self.kinds.insert(kind.name(), kind);
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn Kind>> {
        self.kinds.get(name)
    }

    pub fn all(&self) -> impl Iterator<Item = &Arc<dyn Kind>> {
        self.kinds.values()
    }

    /// Every OpenBao kind, sharing one connection.
    pub fn openbao(bao: Arc<openbao::OpenBao>) -> Self {
        let mut r = Registry::default();
        openbao::register(&mut r, bao);
        r
    }
}
