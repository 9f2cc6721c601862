//! Identity providers (`/admin/realms/{realm}/identity-provider/instances/{alias}`), named by
//! their `alias`, with the attributes a realm export writes (`providerId`, `displayName`,
//! `enabled`, `trustEmail`, `firstBrokerLoginFlowAlias`, `config`, ...).
//!
//! Why `update` sends the whole provider: an IdP `PUT` rebuilds the provider from the body —
//! every field left out reverts to its default and `config` is replaced wholesale (contract
//! §1.5 and addendum). The differ manages only the declared fields and the declared keys of
//! `config`, so an update sends the provider as read, with the declared fields laid over it
//! and the declared `config` keys laid over the live `config`: keys the server holds that the
//! topology does not declare are kept. The base is read again just before the `PUT` (one
//! GET), not taken from the plan: a plan applied later must not undo an edit made since.
//! `providerId` cannot change in place: a new one is a replace. Deleting (or replacing) a
//! provider removes its mappers and every user's link to it, which no create brings back: both
//! count as destroying data.
//!
//! Secrets: an OIDC provider's `config.clientSecret` is answered masked (`**********`) unless
//! it is a `${vault.…}` expression. `read` keeps only the mask (never a clear value, whatever
//! the server sends), and `normalise("config")` drops a plain `clientSecret` from both sides,
//! so it is compared through nothing: no perpetual diff and no value in a plan. A declared
//! secret is sent on create and on every update (the live mask stands in for an undeclared one,
//! which keeps the stored secret — an absent `clientSecret` would clear it). What this does not
//! see: an out-of-band change of only the secret, and a change of only the declared secret in
//! the file (write the secret as a `${vault.…}` expression, which is compared like any value,
//! to have rotations planned). Every secret value in a body is marked for scrubbing from errors.
//!
//! Keycloak cannot take IdP writes concurrently within one realm (optimistic locking answers
//! 500 or 409): the engine serialises writes per realm.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::{Keycloak, config_strings};
use crate::backends::body::Body;
use crate::backends::keycloak::admin_realm;
use crate::backends::path::ApiPath;
use crate::backends::spec::{self, KindSpec};
use crate::backends::{BackendError, Kind, Live, Made};
use crate::model::{Backend, DesiredResource, ResourceId};

pub const KIND: &str = "identity_provider";

/// Where the topology declares it, what it lives in, its secret fields.
pub static SPEC: KindSpec =
    spec::keycloak("a realm file's `identityProviders[]`", Some("realm"), &[]);

/// `config` keys that hold credentials: answered masked, never compared, never shown.
pub const SECRET_CONFIG: &[&str] = &["clientSecret"];

/// What Keycloak answers in place of a stored secret; sent back, it keeps the stored one.
pub const MASK: &str = "**********";

/// Fields of the representation that are the server's bookkeeping: the provider's UUID.
const SERVER_FIELDS: &[&str] = &["internalId"];

/// Providers per page when listing (the server sorts by alias, so pages do not overlap).
const PAGE: u32 = 100;

pub struct Idp {
    kc: Arc<Keycloak>,
}

impl Idp {
    pub fn new(kc: Arc<Keycloak>) -> Self {
        Idp { kc }
    }
}

/// `.../identity-provider/instances` of a realm.
pub fn instances(realm: &str) -> ApiPath {
    admin_realm(realm).lit("identity-provider/instances")
}

/// The identity provider `alias` of `realm` as an object id (the container of its mappers).
pub fn id_of(realm: &str, alias: &str) -> ResourceId {
    ResourceId::on(Backend::Keycloak, realm, KIND, None, alias)
}

/// A `${vault.key}` expression: a reference Keycloak resolves itself, answered as written.
fn is_vault_expression(v: &Value) -> bool {
    v.as_str().is_some_and(|s| s.starts_with("${vault."))
}

/// A provider as read: no server id, and every secret in `config` replaced by [`MASK`] unless
/// it is a vault expression — whatever the server answered, no clear secret leaves here.
fn from_server(rep: Value) -> Option<Live> {
    let Value::Object(mut map) = rep else {
        return None;
    };
    for f in SERVER_FIELDS {
        map.remove(*f);
    }
    if let Some(Value::Object(config)) = map.get_mut("config") {
        for key in SECRET_CONFIG {
            if let Some(v) = config.get_mut(*key)
                && !is_vault_expression(v)
            {
                *v = Value::String(MASK.to_owned());
            }
        }
    }
    Some(Live::from_map(map))
}

/// The request body: `base` (the provider as read, for an update) with the declared fields laid
/// over it, the declared `config` keys (as strings) laid over the base's `config`, and `alias`
/// from the id. Every secret (a secret attribute, any `config.clientSecret`) is marked.
fn body_of(res: &DesiredResource, base: Map<String, Value>) -> Body {
    let mut map = base;
    let mut secrets = Vec::new();
    for (k, v) in &res.attrs {
        if SERVER_FIELDS.contains(&k.as_str()) {
            continue;
        }
        let wire = v.to_wire();
        if v.is_secret() {
            secrets.push(wire.clone());
        }
        if k == "config"
            && let Value::Object(declared) = &wire
        {
            let mut config = match map.remove("config") {
                Some(Value::Object(live)) => live,
                _ => Map::new(),
            };
            config.extend(config_strings(declared));
            for key in SECRET_CONFIG {
                if let Some(s) = config.get(*key).filter(|s| s.as_str() != Some(MASK)) {
                    secrets.push(s.clone());
                }
            }
            map.insert("config".into(), Value::Object(config));
            continue;
        }
        map.insert(k.clone(), wire);
    }
    // Always: a PUT without `alias` blanks it (contract §9.3), and the id names the provider.
    map.insert("alias".into(), Value::String(res.id.name.clone()));
    secrets
        .iter()
        .fold(Body::new(Value::Object(map)), |b, s| b.with_secret_value(s))
}

/// A `config` map as compared: values as strings, and plain secrets out (see the module docs).
pub fn normalise_config(config: &Map<String, Value>) -> Map<String, Value> {
    let mut out = config_strings(config);
    for key in SECRET_CONFIG {
        if out.get(*key).is_some_and(|v| !is_vault_expression(v)) {
            out.remove(*key);
        }
    }
    out
}

#[async_trait]
impl Kind for Idp {
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

    /// A PUT cannot turn a SAML provider into an OIDC one: only a replace can.
    fn immutable(&self) -> &'static [&'static str] {
        &["providerId"]
    }

    /// Users' links to the provider go with it.
    fn replace_destroys_data(&self) -> bool {
        true
    }

    fn delete_destroys_data(&self) -> bool {
        true
    }

    fn data_lost(&self) -> &'static str {
        "its mappers and every user's link to it"
    }

    /// After its mappers (20), which its deletion would take along anyway.
    fn destroy_order(&self) -> u8 {
        35
    }

    fn container(&self, id: &ResourceId) -> Option<ResourceId> {
        Some(super::realm_of(id))
    }

    fn normalise(&self, field: &str, value: Value) -> Value {
        match value {
            Value::Object(c) if field == "config" => Value::Object(normalise_config(&c)),
            other => other,
        }
    }

    async fn read(&self, id: &ResourceId) -> Result<Option<Live>, BackendError> {
        let path = instances(&id.namespace).name(&id.name);
        Ok(self.kc.client.get(&path).await?.and_then(from_server))
    }

    async fn create(&self, res: &DesiredResource) -> Result<Made, BackendError> {
        // A realm export writes the mask in place of the secret: created with it, the
        // provider's secret would be ten asterisks.
        let config = res.attrs.get("config").map(|c| c.to_wire());
        if let Some(key) = SECRET_CONFIG
            .iter()
            .find(|k| config.as_ref().and_then(|c| c.get(**k)?.as_str()) == Some(MASK))
        {
            return Err(BackendError::Refused(format!(
                "{}: `config.{key}` is Keycloak's mask `{MASK}` (as an export writes it), not a \
                 secret: declare the real one",
                res.address
            )));
        }
        let body = body_of(res, Map::new());
        self.kc
            .client
            .post(&instances(&res.id.namespace), &body)
            .await?;
        Ok(Made::none())
    }

    async fn update(
        &self,
        res: &DesiredResource,
        _changed: &BTreeSet<String>,
        _live: &Live,
    ) -> Result<(), BackendError> {
        let path = instances(&res.id.namespace).name(&res.id.name);
        // The provider as it is now, not as planned: the PUT replaces what it is not given, so
        // an older copy would undo an edit made since. Read through `from_server`: masked.
        let Some(now) = self.kc.client.get(&path).await?.and_then(from_server) else {
            return Err(BackendError::Refused(format!(
                "{}: the identity provider no longer exists",
                res.address
            )));
        };
        let body = body_of(res, now.to_map());
        self.kc.client.put(&path, &body).await?;
        Ok(())
    }

    async fn delete(&self, id: &ResourceId) -> Result<(), BackendError> {
        self.kc
            .client
            .delete(&instances(&id.namespace).name(&id.name))
            .await?;
        Ok(())
    }

    /// Every provider of the realm: Keycloak creates none of its own.
    async fn list(
        &self,
        realm: &str,
        _desired: &[&DesiredResource],
    ) -> Result<Vec<ResourceId>, BackendError> {
        let all = self.kc.client.list_paged(&instances(realm), PAGE).await?;
        Ok(all
            .iter()
            .filter_map(|p| p.get("alias").and_then(Value::as_str))
            .map(|alias| id_of(realm, alias))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AttrValue;
    use serde_json::json;

    const CANARY: &str = "idp-unit-canary-77";

    fn res(attrs: Value) -> DesiredResource {
        let attrs = attrs
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), AttrValue::Plain(v.clone())))
            .collect();
        DesiredResource::new(id_of("r", "corp"), attrs)
    }

    #[test]
    fn an_update_keeps_undeclared_config_and_the_stored_secret() {
        let live = json!({"alias": "corp", "providerId": "oidc", "enabled": true,
            "config": {"clientId": "a", "clientSecret": MASK, "extra": "kept"}});
        let declared = res(json!({"providerId": "oidc", "config": {"clientId": "b",
            "validateSignature": false}}));
        let Value::Object(base) = live else { panic!() };
        let body = body_of(&declared, base);
        assert_eq!(
            body.json()["config"],
            json!({"clientId": "b", "clientSecret": MASK, "extra": "kept",
                "validateSignature": "false"})
        );
        assert_eq!(body.json()["enabled"], true);
        assert_eq!(body.json()["alias"], "corp");
    }

    #[test]
    fn a_declared_secret_is_sent_marked_read_masked_and_never_compared() {
        let declared = res(json!({"config": {"clientSecret": CANARY, "clientId": "a"}}));
        let body = body_of(&declared, Map::new());
        assert_eq!(body.json()["config"]["clientSecret"], CANARY);
        assert!(!body.scrub(&format!("echo {CANARY}")).contains(CANARY));
        let live = from_server(json!({"internalId": "u", "alias": "corp",
            "config": {"clientSecret": CANARY}}))
        .unwrap();
        assert_eq!(live.get("config").unwrap()["clientSecret"], MASK);
        assert!(!live.contains_key("internalId"));
        let n = normalise_config(
            json!({"clientSecret": CANARY, "a": true})
                .as_object()
                .unwrap(),
        );
        assert_eq!(Value::Object(n), json!({"a": "true"}));
        // A vault expression is no secret: compared like any value.
        let v = json!({"clientSecret": "${vault.idp}"});
        assert_eq!(Value::Object(normalise_config(v.as_object().unwrap())), v);
    }
}
