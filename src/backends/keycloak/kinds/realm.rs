//! A realm's own settings (`/admin/realms/{realm}`): one object per realm, named by the realm.
//!
//! The realm representation also carries what other kinds own (clients, roles, groups, users,
//! client scopes, identity providers): `read` leaves those out so that a realm's diff is about
//! its settings alone. Keycloak's realm PUT merges what it is given (absent or null fields are
//! kept), so `update` sends only the declared fields.
//!
//! Pruning realms is out of scope: `list` answers only the realm it is asked about, and never
//! `master`, which Keycloak cannot delete and aegisctl must never try to.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::{Keycloak, roles::declared_body};
use crate::backends::keycloak::admin_realm;
use crate::backends::path::ApiPath;
use crate::backends::spec::{self, KindSpec};
use crate::backends::{BackendError, Kind, Live, Made};
use crate::model::{Backend, DesiredResource, ResourceId};

pub const KIND: &str = "realm";

/// Where the topology declares it, what it lives in, its secret fields.
pub static SPEC: KindSpec = spec::keycloak("a realm file's top level", None, &[]);

/// The realm Keycloak administers itself from.
const MASTER: &str = "master";

/// Parts of the representation other kinds own, and the realm's UUID.
const NOT_SETTINGS: &[&str] = &[
    "id",
    "clients",
    "roles",
    "groups",
    "users",
    "clientScopes",
    "identityProviders",
    "identityProviderMappers",
];

pub struct Realm {
    kc: Arc<Keycloak>,
}

impl Realm {
    pub fn new(kc: Arc<Keycloak>) -> Self {
        Realm { kc }
    }
}

/// The realm's name goes in the body too: a PUT with another `realm` would rename it.
fn realm_field(name: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("realm".into(), Value::String(name.to_owned()));
    m
}

#[async_trait]
impl Kind for Realm {
    fn name(&self) -> &'static str {
        KIND
    }

    fn spec(&self) -> &'static KindSpec {
        &SPEC
    }

    fn backend(&self) -> Backend {
        Backend::Keycloak
    }

    fn lane(&self, id: &ResourceId) -> Option<String> {
        super::realm_lane(&id.namespace)
    }

    /// Keycloak creates and deletes realms under a global lock, each taking a second or more
    /// (measured: 16 creates at once made the last ones wait past the 30 s request timeout,
    /// 200 tenants could not be applied): one at a time, in a lane of all realms. Its children
    /// wait for a realm's create anyway, and go before its delete, so nothing else of the realm
    /// runs beside either.
    fn lane_of_change(&self, id: &ResourceId, action: crate::plan::Action) -> Option<String> {
        match action {
            crate::plan::Action::Update => self.lane(id),
            _ => Some("keycloak/realms".into()),
        }
    }

    /// Deleting a realm deletes its users, credentials and sessions with it.
    fn replace_destroys_data(&self) -> bool {
        true
    }

    /// A prune of a realm takes its users with it: never without `--allow-destroy`.
    fn delete_destroys_data(&self) -> bool {
        true
    }

    fn data_lost(&self) -> &'static str {
        "everything in it, users, credentials and sessions included"
    }

    /// Everything in a realm goes first; the realm last.
    fn destroy_order(&self) -> u8 {
        100
    }

    fn container(&self, _id: &ResourceId) -> Option<ResourceId> {
        None
    }

    async fn read(&self, id: &ResourceId) -> Result<Option<Live>, BackendError> {
        let Some(Value::Object(mut rep)) = self.kc.client.get(&admin_realm(&id.name)).await? else {
            return Ok(None);
        };
        for f in NOT_SETTINGS {
            rep.remove(*f);
        }
        Ok(Some(Live::from_map(rep)))
    }

    async fn create(&self, res: &DesiredResource) -> Result<Made, BackendError> {
        let body = declared_body(res, realm_field(&res.id.name));
        self.kc
            .client
            .post(&ApiPath::route("admin/realms"), &body)
            .await?;
        Ok(Made::none())
    }

    /// Only the declared fields (and `realm`) are sent: the PUT merges, so everything else the
    /// realm has is left as it is. Not so `attributes`: "attributes are never removed by PUT"
    /// (the addendum) is true of clients, but the realm PUT replaces the map it is given
    /// (contract §1.5; seen on 26.7.3: an undeclared key vanished). So the declared keys are
    /// laid over the live map, and keys the topology does not declare stay.
    async fn update(
        &self,
        res: &DesiredResource,
        _changed: &BTreeSet<String>,
        live: &Live,
    ) -> Result<(), BackendError> {
        let mut extra = realm_field(&res.id.name);
        if let Some(declared) = res.attrs.get("attributes")
            && let (Value::Object(declared), Some(Value::Object(kept))) =
                (declared.to_wire(), live.get("attributes"))
        {
            let mut merged = kept.clone();
            merged.extend(declared);
            extra.insert("attributes".into(), Value::Object(merged));
        }
        let body = declared_body(res, extra);
        self.kc
            .client
            .put(&admin_realm(&res.id.name), &body)
            .await?;
        Ok(())
    }

    async fn delete(&self, id: &ResourceId) -> Result<(), BackendError> {
        if id.name == MASTER {
            return Err(BackendError::Refused(
                "the realm `master` cannot be deleted: Keycloak is administered from it".into(),
            ));
        }
        self.kc.client.delete(&admin_realm(&id.name)).await?;
        Ok(())
    }

    async fn list(
        &self,
        realm: &str,
        _desired: &[&DesiredResource],
    ) -> Result<Vec<ResourceId>, BackendError> {
        if realm == MASTER {
            return Ok(Vec::new());
        }
        let exists = self.kc.client.get(&admin_realm(realm)).await?.is_some();
        Ok(exists
            .then(|| ResourceId::on(Backend::Keycloak, realm, KIND, None, realm))
            .into_iter()
            .collect())
    }
}
